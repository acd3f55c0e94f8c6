/**
 * The dialplan: what dialling an extension does. The reference deployment's Asterisk
 * dialplan was "an extension calls another with a 20 s ring timeout; if unanswered, a
 * greeting is played and the call hung up" (reference-deployment.md "VoIP"), i.e.
 * `Dial(SIP/${EXTEN},20)` then `Playback(greeting)` and `Hangup()`. Here:
 *
 * - an echo-test extension (Asterisk's classic `exten => 600,1,Answer()` + `Echo()`)
 *   answers and sends the caller's media back;
 * - a registered extension rings with its timeout, then runs its fallback: `greeting`
 *   (answer, play the prompt, BYE) or `hangup` (480 to the caller);
 * - anything else is unknown (404).
 *
 * Pure: built from the config, looked up by the B2BUA.
 */
export type Fallback = 'greeting' | 'hangup';

export type Route =
  | { readonly kind: 'echo' }
  | {
      readonly kind: 'extension';
      readonly user: string;
      readonly ringTimeoutMs: number;
      readonly fallback: Fallback;
    }
  | { readonly kind: 'unknown' };

export interface DialplanConfig {
  readonly ringTimeoutS: number;
  readonly fallback: Fallback;
  readonly echoExtensions: readonly string[];
  readonly overrides: readonly {
    readonly extension: string;
    readonly ringTimeoutS?: number | undefined;
    readonly fallback?: Fallback | undefined;
  }[];
}

export const DEFAULT_DIALPLAN: DialplanConfig = {
  ringTimeoutS: 20,
  fallback: 'greeting',
  echoExtensions: ['600'],
  overrides: [],
};

export class Dialplan {
  private readonly echo: ReadonlySet<string>;

  constructor(
    private readonly cfg: DialplanConfig,
    /** The extensions that exist (configured users). */
    private readonly extensions: { has(user: string): boolean },
  ) {
    this.echo = new Set(cfg.echoExtensions);
  }

  route(user: string): Route {
    if (this.echo.has(user)) return { kind: 'echo' };
    if (!this.extensions.has(user)) return { kind: 'unknown' };
    const o = this.cfg.overrides.find((x) => x.extension === user);
    return {
      kind: 'extension',
      user,
      ringTimeoutMs: (o?.ringTimeoutS ?? this.cfg.ringTimeoutS) * 1000,
      fallback: o?.fallback ?? this.cfg.fallback,
    };
  }
}
