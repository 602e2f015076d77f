/** Opening many bench clients at once, shared by the bench scripts. */
import { RawClient } from './raw-client.js';

/** Where the server is and how bench accounts are named: accounts are `${prefix}${n}@${domain}`, all with one password. */
export interface ServerOptions {
  host: string;
  port: number;
  domain: string;
  prefix: string;
  password: string;
}

export interface ClientSpec {
  user: number;
  resource: string;
}

/** Opens clients for accounts/resources with bounded concurrency; the first one alone, so that a bad setup fails with one clear error. */
export async function openClients(o: ServerOptions, specs: ClientSpec[], concurrency: number): Promise<RawClient[]> {
  const open = (i: number): Promise<RawClient> => {
    const s = specs[i] as ClientSpec;
    return RawClient.open({ host: o.host, port: o.port, domain: o.domain, username: `${o.prefix}${s.user}`, password: o.password, resource: s.resource });
  };
  const clients: RawClient[] = new Array<RawClient>(specs.length);
  if (specs.length === 0) return clients;
  clients[0] = await open(0);
  let next = 1;
  const worker = async (): Promise<void> => {
    while (next < specs.length) {
      const i = next++;
      clients[i] = await open(i);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, specs.length - 1) }, worker));
  } catch (e) {
    for (const c of clients) if (c) void c.close();
    throw e;
  }
  return clients;
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
