// `--only` and waiver matching: check ids or suite names, `*` matches any run of characters.

export function globToRegExp(glob: string): RegExp {
  const body = glob.split('*').map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${body}$`);
}

export function matchesGlob(glob: string, value: string): boolean {
  return globToRegExp(glob).test(value);
}

/** Does `--only` select check `id` of suite `suite`? No patterns selects everything. */
export function selected(only: string[] | undefined, suite: string, id: string): boolean {
  if (!only || only.length === 0) return true;
  return only.some((p) => matchesGlob(p, id) || matchesGlob(p, suite));
}
