// Types for client.js, the web push page's XMPP client (plain JS, shipped as is).
export interface SubscriptionJSON {
  endpoint: string;
  keys: { p256dh: string; auth: string };
}

export declare class WebPushClient {
  constructor(url: string);
  jid: string;
  login(jid: string, password: string): Promise<string>;
  serverKey(): Promise<string>;
  enable(subscription: SubscriptionJSON | { toJSON(): SubscriptionJSON }): Promise<void>;
  close(): void;
}
