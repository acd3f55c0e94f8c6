/**
 * Timer values of RFC 3261 §17.1.1.1 / Table 4: "T1 ... 500ms default", "T2 ... 4s",
 * "T4 ... 5s". Timers B, F, H and J are 64*T1; Timer K and I are T4 (0 on reliable
 * transports), D is ">32s for UDP" (calls stage). Kamailio's tm module uses the same
 * defaults (retr_timer1 500 ms, retr_timer2 4000 ms); Asterisk chan_sip's timert1 is 500.
 */
export interface SipTimers {
  readonly t1: number;
  readonly t2: number;
  readonly t4: number;
}

export const DEFAULT_TIMERS: SipTimers = { t1: 500, t2: 4000, t4: 5000 };
