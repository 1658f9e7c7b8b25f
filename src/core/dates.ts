// Dates as the inventory and waivers write them: calendar days in UTC.

/** The UTC calendar day of `now`, YYYY-MM-DD (a waiver is valid through its expiry day). */
export function utcDate(now: Date): string {
  return now.toISOString().slice(0, 10);
}
