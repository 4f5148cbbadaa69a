{% set rtl = site.lang.split('-')[0]|lower in ('ar', 'fa', 'he', 'ur', 'ps', 'ckb', 'yi', 'dv', 'sd', 'ug') %}
/* gancio-site: this site's upcoming events on any page. Options data-tags, -places, -max,
   -theme, -view, -images, -accent, -target, -now: README, "Embedding". Data from
   embed.json only ever becomes text, never markup. */
{% filter unindent %}
(() => {
  "use strict";
  const S = document.currentScript;
  if (!S || !S.src) return console.warn('gancio-site: load embed.js with <script src="…" async>, not as a module or inline');
  let TZ = {{ site.timezone|tojson }};
  const LANG = {{ site.lang|tojson }}, DIR = {{ ('rtl' if rtl else 'ltr')|tojson }},
    SITE = {{ abs_url('')|tojson }},
    T = {{ {
      'loading': _('Loading events…'),
      'empty': _('No upcoming events.'),
      'error': _('Events could not be loaded.'),
      'visit': _('See them on %(site)s', site=site.title),
      'tz': _('Times in %(zone)s', zone='%s'),
      'online': _('Online'),
      'more': _('More events'),
    }|tojson }};

  const o = S.dataset,
    low = (v) => String(v || "").trim().toLowerCase(),
    list = (v, f) => [...new Set((v || "").split(",").map(f).filter(Boolean))],
    tags = list(o.tags, (t) => t.trim()),
    places = list(o.places, low),
    max = /^\d+$/.test(o.max) && o.max > 0 ? +o.max : 10,
    theme = /^(dark|auto)$/.test(o.theme) ? o.theme : "light",
    compact = o.view == "compact",
    images = o.images != null && o.images != "false",
    target = /^_(top|blank|parent|self)$/.test(o.target) ? o.target : "",
    accent = /^#[\da-f]{3,8}$/i.test(o.accent) && o.accent,
    {# data-now: unix seconds, or ISO 8601 with its offset (without, it would be the visitor's local time) #}
    when = o.now * 1e3 || /(z|[+-]\d\d:?\d\d)$/i.test(o.now) && Date.parse(o.now),
    now = when || {% if widget_now %}{{ (widget_now.timestamp() * 1000)|int }}{% else %}Date.now(){% endif %};
  {# A value the widget cannot use gives way to the default, and the console says so #}
  const valid = { max: max == o.max, theme: /^(light|dark|auto)$/.test(o.theme), target, accent,
    view: /^(list|compact)$/.test(o.view), images: /^(true|false|)$/.test(o.images), now: when };
  for (const k in valid) if (o[k] != null && !valid[k]) console.warn(`gancio-site: ${o.frame ?? "data-"}${k}="${o[k]}" is not valid, so ignored`);

  const DARK = `--a:var(--gs-accent,#ff8db1);--b:var(--gs-bg,#1c1b22);--f:var(--gs-fg,#eceaf1);
--m:var(--gs-muted,#b1aebb);--l:var(--gs-border,#3b3945);color-scheme:dark}`;
  const CSS = `:host{all:initial;display:block}*{box-sizing:border-box;margin:0;padding:0}
.gs{--a:var(--gs-accent,#a3164a);--b:var(--gs-bg,#fff);--f:var(--gs-fg,#1d1b22);
--m:var(--gs-muted,#5d5a66);--l:var(--gs-border,#e2dfd8);color-scheme:light;
font:1em/1.45 var(--gs-font,system-ui,sans-serif);color:var(--f);background:var(--b);
border:1px solid var(--l);border-radius:var(--gs-radius,12px);padding:.2em 1em .7em;
overflow-wrap:anywhere;text-align:start;letter-spacing:normal;word-spacing:normal;
text-transform:none;text-shadow:none;text-indent:0;white-space:normal;
text-decoration:none;visibility:visible;direction:inherit}
.dark{${DARK}@media (prefers-color-scheme:dark){.auto{${DARK}}
a{color:var(--a)}a:focus-visible{outline:2px solid var(--a);outline-offset:2px}
h3{display:flex;flex-wrap:wrap;align-items:center;gap:.2em .6em;padding:.9em 0 .4em;
border-bottom:1px solid var(--l);font-size:.9em}
ul{list-style:none}li{display:grid;grid-template:"w b i"/6.6em minmax(0,1fr) auto;padding:.6em 0}
li+li{border-top:1px solid var(--l)}
.w{grid-area:w;padding-inline-end:.8em;font-weight:700;font-variant-numeric:tabular-nums;white-space:nowrap}
.end{display:block;font-weight:400}.end,.m{font-size:.88em;color:var(--m)}.b{grid-area:b}
.t{font-weight:650;color:var(--f);text-decoration:none}a.t:hover{color:var(--a);text-decoration:underline}
.m{margin-top:.15em}
.pin:before{content:"";display:inline-block;width:.5em;height:.5em;margin-inline-end:.45em;
border:2px solid;border-radius:50% 50% 50% 0;transform:rotate(-45deg)}
.on,.tag{padding:0 .55em;border-radius:99px;font-size:.85em;font-weight:700;text-transform:capitalize;
color:var(--a);background:color-mix(in srgb,var(--a) 14%,transparent)}
img{grid-area:i;margin-inline-start:.8em;width:6em;height:4em;object-fit:cover;border-radius:6px;background:var(--l)}
.n li{grid-template:"w i" "b i"/minmax(0,1fr) auto}.n .end{display:inline;margin-inline-start:.3em}
.n img{width:4.5em;height:4.5em}.compact li{grid-template:"b i"/minmax(0,1fr) auto;padding:.5em 0}
.compact img{width:3em;height:3em}.msg{padding:1em 0;color:var(--m)}
.f{display:flex;flex-wrap:wrap;justify-content:space-between;gap:.2em 1em;margin-top:.3em;
padding-top:.6em;border-top:1px solid var(--l);font-size:.8em;color:var(--m)}
.more:after{content:" \u2192"}[dir=rtl] .more:after{content:" \u2190"}`;

  const el = (tag, cls, text, parent) => {
    const e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text != null) e.textContent = text;
    if (parent) parent.append(e);
    return e;
  };
  const safe = (url) => { {# only absolute http(s) URLs become links or images #}
    try { url = new URL(url); return /^https?:$/.test(url.protocol) && url.href; } catch { return ""; }
  };
  const link = (text, url, parent, cls) => {
    const a = el((url = safe(url)) ? "a" : "span", cls, text, parent);
    if (url) { a.href = url; if (target) a.target = target; }
    return a;
  };
  const time = (parent, iso, text) => { el("time", "", text, parent).dateTime = iso; };
  const fmt = (options, year, lang) => {
    options.timeZone = TZ;
    if (year) options.year = "numeric";
    return new Intl.DateTimeFormat(lang || LANG, options);
  };
  try { fmt({}); } catch { TZ = "UTC"; } {# a zone this browser does not know #}
  {# "3:00 PM", but "15:00" or "03:00": as the language writes hours #}
  const H = /h1/.test(fmt({ hour: "numeric" }).resolvedOptions().hourCycle) ? "numeric" : "2-digit",
    KEY = fmt({ year: "numeric", month: "2-digit", day: "2-digit" }, 0, "en-US");
  const key = (t) => { {# "2026-12-05": the day of instant t in the site's zone #}
    const p = {};
    KEY.formatToParts(t).forEach((x) => { p[x.type] = x.value; });
    return p.year + "-" + p.month + "-" + p.day;
  };

  {# The widget takes the place of a fallback link next to the script, if there is one. #}
  const host = document.createElement("gancio-site-events"),
    fallback = [S.previousElementSibling, S.nextElementSibling].find((e) => e && e.matches("[data-gancio-site-fallback]"));
  fallback ? fallback.replaceWith(host) : S.after(host);
  if (accent) host.style.setProperty("--gs-accent", accent);
  const root = host.attachShadow({ mode: "open" });
  try { {# a constructed sheet needs no 'unsafe-inline' in the page's Content-Security-Policy #}
    const sheet = new CSSStyleSheet();
    sheet.replaceSync(CSS);
    root.adoptedStyleSheets = [sheet];
  } catch { el("style", "", CSS, root); }
  const box = el("div", "gs " + theme + (compact ? " compact" : ""), null, root);
  Object.assign(box, { lang: LANG, dir: DIR });
  if (window.ResizeObserver) new ResizeObserver(() => box.classList.toggle("n", box.clientWidth < 420)).observe(box);
  el("p", "msg", T.loading, box);

  fetch(new URL("embed.json", S.src))
    .then((r) => { if (!r.ok) throw r; return r.json(); })
    .then(draw)
    .catch(() => {
      box.textContent = "";
      link(T.visit, SITE, el("p", "msg", T.error + " ", box));
    });

  function draw(data) {
    [[tags, data.tags, "tag"], [places, data.places, "place"]].forEach(([names, known, what]) => names.forEach((n) =>
      Object.hasOwn(known || {}, n) || console.warn(`gancio-site: no event of this site has the ${what} "${n}"`)));
    const today = key(now), year = today.slice(0, 4), other = (t) => key(t).slice(0, 4) != year;
    const events = data.events.filter((e) => {
      e.s = Date.parse(e.start);
      e.e = Date.parse(e.end);
      return (e.e || e.s) >= now {# not over yet #}
        && (!tags.length || (e.tags || []).some((t) => tags.includes(t)))
        && (!places.length || places.includes(low((e.place || {}).name)));
    }).sort((a, b) => a.s - b.s).slice(0, max);
    let last, ul, m;
    box.textContent = "";
    if (!events.length) el("p", "msg", T.empty, box);
    for (const e of events) {
      const at = Math.max(e.s, now), day = key(at), p = e.place || {}, image = images && e.image,
        multi = key(e.e || e.s) != key(e.s);
      if (!compact && day != last) { {# a heading per day; events going on are listed today #}
        const h = el("h3", "", null, box), n = (Date.parse(day) - Date.parse(today)) / 864e5;
        time(h, day, fmt({ weekday: "long", day: "numeric", month: "long" }, other(at)).format(at));
        if (n < 2) el("span", "tag", new Intl.RelativeTimeFormat(LANG, { numeric: "auto" }).format(n, "day"), h);
        last = day;
        ul = 0;
      }
      const li = el("li", "", null, ul = ul || el("ul", "", null, box));
      if (!compact) {
        const w = el("p", "w", null, li), hm = fmt({ hour: H, minute: "2-digit" });
        if (key(e.s) == day) time(w, e.start, hm.format(e.s));
        if (e.e > e.s && !multi) time(el("span", "end", "\u2013 ", w), e.end, hm.format(e.e));
      }
      const b = el("div", "b", null, li);
      link(e.title, e.url, b, "t").dir = "auto";
      if (compact || multi) {
        const f = fmt({ weekday: "short", day: "numeric", month: "short", hour: H, minute: "2-digit" }, other(e.s) || other(e.e || e.s));
        let text = f.format(e.s);
        try { if (e.e > e.s) text = f.formatRange(e.s, e.e); } catch {}
        time(m = el("p", "m", null, b), e.start, text);
      }
      if (p.online || p.name) {
        if (compact) m.append(" \u00b7 "); else m = el("p", "m", null, b);
        el("span", p.online ? "on" : "pin", p.online ? T.online : p.name, m).dir = "auto";
      }
      const src = image && safe(image.thumb_url), focus = image && image.focal_point || [];
      if (src) {
        const img = el("img", "", null, li);
        img.loading = "lazy";
        img.alt = ""; {# decorative: the title is next to it #}
        img.width = image.width > 0 ? image.width : 96;
        img.height = image.height > 0 ? image.height : 64;
        img.style.objectPosition = (+focus[0] + 1) * 50 + "% " + (+focus[1] + 1) * 50 + "%";
        img.src = src;
      }
    }
    const foot = el("p", "f", null, box);
    el("span", "", T.tz.replace("%s", TZ), foot);
    {# One tag or one place: "More events" leads to its page #}
    const one = tags.length + places.length == 1 && ((tags[0] ? data.tags : data.places) || {})[tags[0] || places[0]];
    link(T.more, safe(one) || SITE, foot, "more");
  }
})();
{% endfilter %}
