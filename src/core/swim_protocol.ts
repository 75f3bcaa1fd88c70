/**
 * The vocabulary of the SWIM machine (`swim.ts`): its tunables and defaults,
 * the messages SWIM nodes exchange, the timers the machine asks for, the
 * events it consumes and the actions it returns for its actor to carry out.
 * Plain data, so it crosses threads and the simulator as is.
 */
import { AWARENESS_MAX_MULTIPLIER } from './limits.js';
import type { MemberStatus } from './membership.js';
import type { SwimUpdate } from './swim_broadcast.js';

export type { SwimUpdate } from './swim_broadcast.js';

/** Tunables of one SWIM machine. */
export interface SwimConfig {
  /** This node's member id. */
  self: string;
  /** Lifeguard on (dynamic suspicion, local health, nacks) or plain SWIM. */
  lifeguard: boolean;
  /** Protocol period: one probe per period (before awareness scaling). */
  probe_interval_ms: number;
  /** Wait for a direct ack before asking others (before awareness scaling). */
  probe_timeout_ms: number;
  /** Members asked to probe indirectly (SWIM's k), ≤ SWIM_INDIRECT_CHECKS_MAX. */
  indirect_checks: number;
  /** Minimum suspicion timeout in periods, scaled by log10(n) (memberlist's SuspicionMult). */
  suspicion_mult: number;
  /** Maximum suspicion timeout as a multiple of the minimum (memberlist's SuspicionMaxTimeoutMult; Lifeguard only). */
  suspicion_max_timeout_mult: number;
  /** Piggyback retransmissions per update are this · ceil(log10(n + 1)) (memberlist's RetransmitMult). */
  retransmit_mult: number;
  /** Largest awareness multiplier (memberlist's AwarenessMaxMultiplier). */
  awareness_max: number;
  /** A relay nacks after this fraction of the probe timeout (memberlist: 80%). */
  nack_timeout_fraction: number;
}

/** memberlist's LAN profile scaled to one host: 500 ms period, 250 ms probe timeout. */
export const SWIM_DEFAULTS: Readonly<Omit<SwimConfig, 'self'>> = {
  lifeguard: true,
  probe_interval_ms: 500,
  probe_timeout_ms: 250,
  indirect_checks: 3,
  suspicion_mult: 4,
  suspicion_max_timeout_mult: 6,
  retransmit_mult: 4,
  awareness_max: AWARENESS_MAX_MULTIPLIER,
  nack_timeout_fraction: 0.8,
};

/** Messages between SWIM machines; every one but `nack` carries piggybacked updates. */
export type SwimMessage =
  | { type: 'ping'; from: string; target: string; seq: number; updates: SwimUpdate[] }
  | { type: 'ping_req'; from: string; target: string; seq: number; want_nack: boolean; updates: SwimUpdate[] }
  | { type: 'ack'; from: string; seq: number; updates: SwimUpdate[] }
  | { type: 'nack'; from: string; seq: number };

/** Timers the machine asks for; the actor delivers each back as an event when it fires. */
export type SwimTimer =
  | { type: 'tick' }
  | { type: 'probe_timeout'; seq: number }
  | { type: 'relay_timeout'; seq: number }
  | { type: 'suspicion_timeout'; member: string };

/** Everything that drives the machine: fired timers, received messages, gossip from elsewhere, leaving. */
export type SwimEvent = SwimTimer | SwimMessage | { type: 'gossip'; updates: SwimUpdate[] } | { type: 'leave' };

/** What the actor must do. */
export type SwimAction =
  | { type: 'send'; to: string; message: SwimMessage }
  | { type: 'set_timer'; timer: SwimTimer; at_ms: number }
  /** The local view of `member` changed (self included, on refutation). */
  | { type: 'status'; member: string; status: MemberStatus; incarnation: number; at_ms: number }
  /** `observer` (self included) reported `member` suspect or down at `incarnation`, for the two-observer rule. */
  | { type: 'observed'; member: string; status: 'suspect' | 'down'; incarnation: number; observer: string; at_ms: number };
