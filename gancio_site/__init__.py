"""gancio-site: a static website, feeds and a widget from the events of a Gancio instance."""

__version__ = "0.1.0"
