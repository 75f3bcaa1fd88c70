/**
 * A time in ms since the epoch as ISO 8601 UTC text ("2026-12-04T08:13:03.000Z"),
 * for log lines of pure code (actors/, src/core), which may not construct a
 * `Date` (the purity lint forbids it there so no real clock is ever read).
 * Civil date from a day count after Howard Hinnant's `civil_from_days`.
 *
 * Pure: no I/O, no clock.
 */

const MS_PER_DAY = 86_400_000;

export function isoTime(ms: number): string {
  if (!Number.isFinite(ms)) return String(ms);
  const t = Math.trunc(ms);
  const days = Math.floor(t / MS_PER_DAY);
  const inDay = t - days * MS_PER_DAY;
  const z = days + 719_468;
  const era = Math.floor(z / 146_097);
  const doe = z - era * 146_097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36_524) - Math.floor(doe / 146_096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const day = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const month = mp < 10 ? mp + 3 : mp - 9;
  const year = yoe + era * 400 + (month <= 2 ? 1 : 0);
  const pad = (n: number, width = 2): string => String(n).padStart(width, '0');
  const yearText = year >= 0 && year <= 9999 ? pad(year, 4) : (year < 0 ? '-' : '+') + pad(Math.abs(year), 6);
  const [h, m, s, milli] = [Math.floor(inDay / 3_600_000), Math.floor(inDay / 60_000) % 60, Math.floor(inDay / 1000) % 60, inDay % 1000];
  return `${yearText}-${pad(month)}-${pad(day)}T${pad(h)}:${pad(m)}:${pad(s)}.${pad(milli, 3)}Z`;
}
