import { ValidationError } from '../errors';

/** Position in the newest-first anomaly listing: start time and id of the last item returned. */
export interface Cursor {
  t: number;
  id: string;
}

/** Opaque (base64url JSON) so clients don't build cursors by hand. */
export function encodeCursor(c: Cursor): string {
  return Buffer.from(JSON.stringify([c.t, c.id])).toString('base64url');
}

/** Throws a ValidationError naming `cursor` for anything that is not a cursor we issued. */
export function decodeCursor(text: string): Cursor {
  try {
    const v: unknown = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
    if (Array.isArray(v) && v.length === 2 && Number.isFinite(v[0]) && typeof v[1] === 'string') return { t: v[0], id: v[1] };
  } catch {
    // fall through to the error below
  }
  throw new ValidationError('invalid cursor', { field: 'cursor' });
}
