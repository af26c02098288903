/**
 * `s` cut to at most `max` UTF-16 code units, never inside a surrogate pair (half an emoji is an invalid
 * character that receivers show as a replacement box, or refuse).
 */
export function cutCodePoints(s: string, max: number): string {
  if (s.length <= max) return s;
  const last = s.charCodeAt(max - 1);
  return s.slice(0, last >= 0xd800 && last <= 0xdbff ? max - 1 : max);
}
