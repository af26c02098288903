import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { TargetNotAllowedError } from './errors';

/**
 * Keeps alert webhooks away from internal hosts (SSRF): a target that is, or resolves to, a private,
 * loopback, link-local, CGNAT, multicast or reserved address is refused unless its host is allow-listed.
 * The check runs on the address actually connected to (a `lookup` hook on the request), so a name that
 * resolves differently at send time than at start (DNS rebinding) is still caught.
 */

const INTERNAL = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  INTERNAL.addSubnet(net, prefix, 'ipv4');
}
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['64:ff9b::', 96],
  ['100::', 64],
  ['2001:db8::', 32],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  INTERNAL.addSubnet(net, prefix, 'ipv6');
}

/** An IPv4 address embedded in an IPv6 one (mapped `::ffff:a.b.c.d` or compatible), if any. */
function embeddedV4(address: string): string | null {
  const m = /^::(?:ffff:)?(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (m) return m[1];
  const h = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/i.exec(address);
  if (h) {
    const a = parseInt(h[1], 16);
    const b = parseInt(h[2], 16);
    return `${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`;
  }
  return null;
}

/** Whether an IP address is internal (not publicly routable). Non-IP input counts as internal. */
export function isInternalAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '').split('%')[0];
  const v = isIP(bare);
  if (v === 4) return INTERNAL.check(bare, 'ipv4');
  if (v === 6) {
    const v4 = embeddedV4(bare);
    return v4 ? INTERNAL.check(v4, 'ipv4') : INTERNAL.check(bare, 'ipv6');
  }
  return true;
}

type LookupCallback = (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/** Checks alert targets against the allow-list and internal ranges. */
export class UrlGuard {
  private readonly exact = new Set<string>();
  private readonly suffixes: string[] = [];

  /** `allowlist`: host names or IPs, `*.example.com` for any subdomain (SENTINEL_WEBHOOK_ALLOWLIST). */
  constructor(allowlist: readonly string[] = []) {
    for (const raw of allowlist) {
      const h = normaliseHost(raw);
      if (h.startsWith('*.')) this.suffixes.push(h.slice(1));
      else if (h) this.exact.add(h);
    }
  }

  /** Whether the host is allow-listed (then any address it resolves to is accepted). */
  allows(host: string): boolean {
    const h = normaliseHost(host);
    return this.exact.has(h) || this.suffixes.some((s) => h.endsWith(s));
  }

  /**
   * Checks what can be checked without DNS: scheme http(s) and, for an IP-literal host, the address.
   * Throws TargetNotAllowedError or TypeError (not a usable URL).
   */
  assertAllowed(url: URL): void {
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError(`alert targets must be http(s) URLs, not ${url.protocol}`);
    const host = normaliseHost(url.hostname);
    if (this.allows(host)) return;
    if (isIP(host) && isInternalAddress(host)) throw new TargetNotAllowedError(host, host);
  }

  /**
   * A `lookup` for http(s).request that resolves as usual and refuses internal addresses of hosts that are
   * not allow-listed. Supports both the single-address and the `all: true` callback forms.
   */
  lookupFor(host: string): (hostname: string, options: LookupOptions, callback: LookupCallback) => void {
    const allowed = this.allows(host);
    return (hostname, options, callback) => {
      dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
        if (err) return callback(err, []);
        const list = addresses as LookupAddress[];
        if (!allowed) {
          const bad = list.find((a) => isInternalAddress(a.address));
          if (bad) return callback(Object.assign(new TargetNotAllowedError(hostname, bad.address), { code: 'ETARGETNOTALLOWED' }), []);
        }
        if (options.all) return callback(null, list);
        const first = list[0];
        if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
        callback(null, first.address, first.family);
      });
    };
  }
}

function normaliseHost(h: string): string {
  return h.trim().toLowerCase().replace(/^\[|\]$/g, '').replace(/\.$/, '');
}
