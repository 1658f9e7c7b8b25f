// The HTML report's stylesheet, and its filter: CSS only (`:has()` on checkboxes and radios), so
// the page needs no script, and a browser without `:has()` simply shows the full list.

const BASE = `
:root{--pass:#1a7f37;--fail:#cf222e;--error:#9a6700;--muted:#57606a;--line:#d0d7de}
body{font:14px/1.45 system-ui,sans-serif;margin:0 2em 2em;color:#1f2328}
h1{font-size:1.4em;margin:.6em 0 .2em} h2{font-size:1.15em;margin-top:1.8em;border-bottom:1px solid var(--line)}
h3{font-size:1em;margin:1em 0 .3em}
table{border-collapse:collapse;width:100%} td,th{border-bottom:1px solid var(--line);padding:.3em .5em;text-align:left;vertical-align:top}
code{font-size:12px}
th{background:#f6f8fa}
.pass{color:var(--pass)}.fail{color:var(--fail);font-weight:bold}.error{color:var(--error);font-weight:bold}
.skipped,.manual{color:var(--muted)}.waived{color:#8250df}.none{color:var(--muted)}
pre{white-space:pre-wrap;word-break:break-word;background:#f6f8fa;padding:.4em .6em;margin:.2em 0;font-size:12px}
dl{display:grid;grid-template-columns:max-content auto;gap:.1em 1em;margin:.3em 0} dt{color:var(--muted)} dd{margin:0}
.banner{margin:0 -2em 1em;padding:.8em 2em;color:#fff;font-weight:bold}
.banner .verdict{font-size:1.6em;margin:0}.banner .counts{margin:.2em 0 0;font-weight:normal}
.banner .links{margin:.3em 0 0;font-weight:normal}.banner a{color:#fff}
.banner.certified{background:#1a7f37}.banner.not-certified{background:#cf222e}.banner.incomplete{background:#9a6700}
.sev-critical,.sev-high{font-weight:bold}
.checklist td.cell a{text-decoration:none}
.untrusted{color:var(--fail);font-weight:bold}
.filter{border:1px solid var(--line);padding:.4em .8em;margin:1em 0}
.filter legend{color:var(--muted)} .filter label{margin-right:.8em;white-space:nowrap}
.count{color:var(--muted);font-weight:normal}
td.msg details{margin-top:.2em} summary{cursor:pointer;color:var(--muted)}
@media print{
  body{margin:0;font-size:11px} .filter{display:none}
  .banner{margin:0 0 1em;print-color-adjust:exact;-webkit-print-color-adjust:exact}
  tr{break-inside:avoid} a{color:inherit;text-decoration:none}
  /* Evidence of failures and errors is open, so it prints; passes print their message only. */
  details:not([open]){display:none}
}`;

const STATUSES = ['fail', 'error', 'waived', 'skipped', 'manual', 'pass'];

/** The stylesheet, with one filter rule per status and per node and suite index. */
export function htmlStyle(nodes: number, suites: number): string {
  const rules = [
    ...STATUSES.map((s) => `body:has(#f-${s}:not(:checked)) tr.r.s-${s}{display:none}`),
    ...Array.from({ length: nodes }, (_, i) => `body:has(#fn-${i}:checked) tr.r:not(.n-${i}){display:none}`),
    ...Array.from({ length: suites }, (_, i) => `body:has(#fu-${i}:checked) tr.r:not(.u-${i}){display:none}`),
  ];
  return `${BASE}\n@media screen{\n${rules.join('\n')}\n}`;
}
