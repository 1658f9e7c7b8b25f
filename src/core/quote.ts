// Quoting for the node's shell, done once here (testinfra's host.run(fmt, *args)): callers pass
// values as arguments and never build quotes by hand.

/** POSIX single-quote a string for sh. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * A command line from a template, every interpolated value quoted:
 * sh`stat -c %a ${path}` → stat -c %a '/etc/x'. Arrays become space-separated quoted words.
 */
export function sh(strings: TemplateStringsArray, ...values: (string | number | readonly (string | number)[])[]): string {
  let out = strings[0];
  values.forEach((v, i) => {
    out += Array.isArray(v) ? v.map((x) => shq(String(x))).join(' ') : shq(String(v));
    out += strings[i + 1];
  });
  return out;
}
