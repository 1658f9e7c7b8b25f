// Cites, in a result's evidence, the NixOS option its expectation came from (inventories written by
// `plan --from-nix` carry an `optionPaths` map: inventory location → option path).

/**
 * The option path(s) behind a result of suite key `key` on expectation `expectName`. Locations under
 * that key whose segments name a word of the subject (a container, a setting, a unit) win; otherwise
 * every option path under the key is cited, since the check read the key's expectation as a whole.
 */
export function optionPathFor(
  map: Record<string, string> | undefined,
  expectName: string,
  key: string,
  subject: string,
): string | undefined {
  if (!map) return undefined;
  const prefix = `expectations.${expectName}.${key}`;
  const entries = Object.entries(map).filter(([loc]) => loc === prefix || loc.startsWith(`${prefix}.`));
  if (entries.length === 0) return undefined;
  const words = new Set(subject.split(/[\s/:,()]+/).filter(Boolean));
  const specific = entries.filter(([loc]) => loc.slice(prefix.length + 1).split('.').some((seg) => words.has(seg)));
  const chosen = specific.length ? specific : entries;
  return [...new Set(chosen.map(([, path]) => path))].join('; ');
}
