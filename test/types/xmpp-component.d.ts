// The part of @xmpp/component 0.13 the tests use; the package ships no types.
declare module '@xmpp/component' {
  import type { Element } from '@xmpp/xml';
  export { default as xml } from '@xmpp/xml';

  interface Component {
    start(): Promise<unknown>;
    stop(): Promise<unknown>;
    send(el: Element): Promise<void>;
    on(event: 'error', listener: (e: Error) => void): void;
    on(event: 'stanza', listener: (el: Element) => void): void;
  }

  export function component(options: { service: string; domain: string; password: string }): Component;
}
