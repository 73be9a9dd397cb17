/**
 * The SSRF guard of webhook endpoints: a URL must be https (http only when the endpoint allows it) and
 * every address its host resolves to must be public: not loopback, private (10/8, 172.16/12,
 * 192.168/16, fc00::/7), link-local (169.254/16, fe80::/10), CGNAT (100.64/10), cloud metadata
 * (169.254.169.254, fd00:ec2::254), unspecified, multicast or reserved, nor an IPv4-mapped IPv6 address
 * of these. Checked when an endpoint is added and again at each delivery, on the address the socket
 * actually connects to (the lookup below is the connection's), so a name that resolves somewhere else
 * later (DNS rebinding) is refused too. SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS (hosts or CIDRs) lets chosen
 * ones through: tests deliver to 127.0.0.1 with it. The same guard and allowlist apply to the direct
 * sitemap fetches of workers (src/sitemaps/fetch.ts), whose URLs come from token holders too.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { BlockList, isIP } from 'node:net';
import { ConfigError, ValidationError } from '../errors.js';

const blocked = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const)
  blocked.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  // ::, ::1 and the IPv4-compatible ::a.b.c.d, which URL writes in hex (`[::127.0.0.1]` is `[::7f00:1]`)
  ['::', 96],
  ['::ffff:0:0:0', 96], // IPv4-translated (SIIT)
  ['fec0::', 10], // site-local, deprecated but routed as private where still configured
  ['fc00::', 7],
  ['fe80::', 10],
  ['ff00::', 8],
  ['64:ff9b::', 96],
  ['2001:db8::', 32],
] as const)
  blocked.addSubnet(net, prefix, 'ipv6');

/** The IPv4 address inside an IPv4-mapped (`::ffff:a.b.c.d`, also in hex) or -compatible IPv6 address. */
function embeddedV4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:0*:)*(?:ffff:)?(\d+\.\d+\.\d+\.\d+)$/.exec(lower.replace(/^::/, '0:'));
  if (dotted) return dotted[1];
  const hex = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (!hex) return undefined;
  const [hi, lo] = [parseInt(hex[1]!, 16), parseInt(hex[2]!, 16)];
  return `${hi >> 8}.${hi & 255}.${lo >> 8}.${lo & 255}`;
}

/** Whether an IP address is one no webhook may reach (without the allowlist). */
export function isBlockedAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return true;
  const v4 = embeddedV4(address);
  return v4 !== undefined ? blocked.check(v4, 'ipv4') : blocked.check(address, 'ipv6');
}

/** SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS, parsed: host names, addresses and CIDRs let through the guard. */
export class AllowList {
  private readonly hosts = new Set<string>();
  private readonly nets = new BlockList();

  constructor(value: string | undefined) {
    for (const entry of (value ?? '')
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter(Boolean)) {
      const [net, bits, ...rest] = entry.replace(/^\[|\]$/g, '').split('/');
      const family = isIP(net ?? '');
      // A prefix must be whole and in range: `10.0.0.0/` read as Number('') would be /0, every address.
      if (
        bits !== undefined &&
        (!family || rest.length > 0 || !/^\d{1,3}$/.test(bits) || Number(bits) > (family === 4 ? 32 : 128))
      )
        throw new ConfigError(
          `invalid environment: SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS: ${JSON.stringify(entry)} is not a host, an address or a CIDR (address/prefix)`,
          'e.g. 127.0.0.1,10.1.0.0/16,hooks.internal',
        );
      if (family && bits !== undefined)
        this.nets.addSubnet(net!, Number(bits), family === 4 ? 'ipv4' : 'ipv6');
      else if (family) this.nets.addAddress(net!, family === 4 ? 'ipv4' : 'ipv6');
      else this.hosts.add(entry);
    }
  }

  host(hostname: string): boolean {
    return this.hosts.has(hostname.toLowerCase().replace(/^\[|\]$/g, ''));
  }

  address(address: string): boolean {
    const family = isIP(address);
    return family !== 0 && this.nets.check(address, family === 4 ? 'ipv4' : 'ipv6');
  }
}

/** What is wrong with a SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS value, or undefined when it parses. */
export function allowListProblem(value: string): string | undefined {
  try {
    new AllowList(value);
    return undefined;
  } catch (err) {
    return (err as Error).message.replace(/^invalid environment: SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS: /, '');
  }
}

/** Why an address is refused, naming it (never the URL, whose path may be a secret). */
function refusal(host: string, address: string): string {
  return `${host} resolves to ${address}, a loopback, private, link-local, CGNAT or metadata address: webhooks and workers' direct sitemap fetches reach public addresses only (or allow it with SCRAPEFLOW_WEBHOOK_ALLOW_HOSTS)`;
}

export class RefusedAddressError extends Error {
  override readonly name = 'RefusedAddressError';
}

/**
 * A `lookup` for sockets (undici's `connect` option) that resolves every address of the host and
 * fails when one is refused, so the connection never reaches it.
 */
export function guardedLookup(allow: AllowList): typeof dnsLookup {
  const lookup = (
    hostname: string,
    options: object,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ) => {
    dnsLookup(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const bad = allow.host(hostname)
        ? undefined
        : addresses.find((a) => !allow.address(a.address) && isBlockedAddress(a.address));
      if (bad) return callback(new RefusedAddressError(refusal(hostname, bad.address)), []);
      if ((options as { all?: boolean }).all) return callback(null, addresses);
      const first = addresses[0]!;
      callback(null, first.address, first.family);
    });
  };
  return lookup as unknown as typeof dnsLookup;
}

/** Resolves every address of `hostname` (an IP literal is itself). */
function resolveAll(hostname: string): Promise<string[]> {
  const bare = hostname.replace(/^\[|\]$/g, '');
  if (isIP(bare)) return Promise.resolve([bare]);
  return new Promise((resolve, reject) =>
    dnsLookup(bare, { all: true }, (err, addresses) =>
      err ? reject(err) : resolve(addresses.map((a) => a.address)),
    ),
  );
}

/**
 * Checks an endpoint URL (when added, and before each try for IP literals, which sockets do not look
 * up): https or allowed http, and no refused address. Throws a ValidationError naming `field`.
 */
export async function checkEndpointUrl(
  raw: string,
  options: { allowHttp: boolean; allow: AllowList; field?: string },
): Promise<URL> {
  const field = options.field ?? 'url';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ValidationError(`${field}: is not a URL`, field);
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && options.allowHttp))
    throw new ValidationError(
      `${field}: must be https (${url.protocol.replace(':', '')} only with --allow-http / allowHttp)`,
      field,
    );
  if (url.username || url.password)
    throw new ValidationError(`${field}: must not hold a user or password`, field);
  const host = url.hostname;
  if (options.allow.host(host)) return url;
  let addresses: string[];
  try {
    addresses = await resolveAll(host);
  } catch (err) {
    throw new ValidationError(
      `${field}: ${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
      field,
    );
  }
  const bad = addresses.find((a) => !options.allow.address(a) && isBlockedAddress(a));
  if (bad) throw new ValidationError(`${field}: ${refusal(host, bad)}`, field);
  return url;
}
