/**
 * RTP and RTCP header codec (RFC 3550 §5.1 fixed header, §6.4 SR/RR, §6.1 compound
 * packets, appendix A.1/A.2 validity checks) and the RTP/RTCP demultiplexing rule of
 * RFC 5761 §4 for streams that share one port (a=rtcp-mux).
 *
 * The relay forwards datagrams unchanged; it only needs to read headers to latch safely
 * and to keep statistics, so decoding returns offsets into the original bytes and never
 * copies the payload. Encoding exists for the media player and for tests.
 *
 * Nothing here throws on peer input: decoders return `{ ok: false, error }` with an
 * `ERR_RTP_*` code. Leaves out: header extension contents (RFC 8285; skipped, length
 * checked), SDES/BYE/APP bodies (only their common header is read), SRTP.
 */

export const RTP_VERSION = 2;
/** Fixed RTP header (§5.1): V/P/X/CC, M/PT, sequence number, timestamp, SSRC. */
export const RTP_HEADER_BYTES = 12;
/**
 * Largest datagram accepted as RTP/RTCP: an Ethernet MTU (1500) less IPv4 and UDP headers.
 * Precedent: rtpengine and Asterisk read media into 1500/1514-byte buffers too; a G.711
 * 20 ms packet is 172 bytes.
 */
export const MAX_MEDIA_DATAGRAM = 1472;

export const RTCP_SR = 200;
export const RTCP_RR = 201;
export const RTCP_SDES = 202;
export const RTCP_BYE = 203;
export const RTCP_APP = 204;

export type RtpErrorCode =
  | 'ERR_RTP_TRUNCATED'
  | 'ERR_RTP_VERSION'
  | 'ERR_RTP_PADDING'
  | 'ERR_RTP_TOO_LONG'
  | 'ERR_RTCP_TRUNCATED'
  | 'ERR_RTCP_VERSION'
  | 'ERR_RTCP_LENGTH'
  | 'ERR_RTCP_FIRST_TYPE'
  | 'ERR_RTCP_PADDING';

export interface RtpError {
  readonly code: RtpErrorCode;
  readonly message: string;
}

export interface RtpHeader {
  readonly version: number;
  readonly padding: boolean;
  readonly extension: boolean;
  readonly marker: boolean;
  readonly payloadType: number;
  readonly sequenceNumber: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly csrc: readonly number[];
  /** Header bytes including CSRCs and the extension (the payload starts here). */
  readonly payloadOffset: number;
  /** Payload bytes, padding excluded. */
  readonly payloadLength: number;
  /** Padding bytes at the end (0 when P is clear). */
  readonly paddingLength: number;
}

export type RtpDecodeResult =
  | { readonly ok: true; readonly header: RtpHeader }
  | { readonly ok: false; readonly error: RtpError };

const fail = (code: RtpErrorCode, message: string): { ok: false; error: RtpError } => ({
  ok: false,
  error: { code, message },
});

const u16 = (b: Uint8Array, o: number): number => (b[o]! << 8) | b[o + 1]!;
const u32 = (b: Uint8Array, o: number): number =>
  ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;

/**
 * RFC 5761 §4: "if the value of the second octet of a received packet is between 192 and
 * 223 [RTCP packet types 64-95 with the marker bit set], it is RTCP". RTP payload types
 * 64-95 are therefore never used on a muxed port.
 */
export function looksLikeRtcp(data: Uint8Array): boolean {
  const b1 = data[1];
  return data.length >= 8 && b1 !== undefined && b1 >= 192 && b1 <= 223;
}

/**
 * RFC 7983 §7 demultiplexing on the first byte: 0-3 is STUN (RFC 5389 §6, which also fixes
 * the magic cookie 0x2112A442 at bytes 4-7). Phones send STUN binding requests to the media
 * port as keepalives (linphone 5.1 does, about twice a second) even when ICE is stripped.
 */
export function looksLikeStun(data: Uint8Array): boolean {
  return (
    data.length >= 20 &&
    data[0]! <= 3 &&
    data[4] === 0x21 &&
    data[5] === 0x12 &&
    data[6] === 0xa4 &&
    data[7] === 0x42
  );
}

/** Decode the RTP fixed header, CSRC list, extension header and padding (§5.1, §5.3.1). */
export function decodeRtpHeader(data: Uint8Array): RtpDecodeResult {
  const len = data.length;
  if (len < RTP_HEADER_BYTES) return fail('ERR_RTP_TRUNCATED', `RTP packet of ${len} bytes`);
  if (len > MAX_MEDIA_DATAGRAM) return fail('ERR_RTP_TOO_LONG', `RTP packet of ${len} bytes`);
  const b0 = data[0]!;
  const version = b0 >> 6;
  if (version !== RTP_VERSION) return fail('ERR_RTP_VERSION', `RTP version ${version}`);
  const padding = (b0 & 0x20) !== 0;
  const extension = (b0 & 0x10) !== 0;
  const cc = b0 & 0x0f;
  const b1 = data[1]!;
  let offset = RTP_HEADER_BYTES + 4 * cc;
  if (offset > len) return fail('ERR_RTP_TRUNCATED', `${cc} CSRCs do not fit`);
  const csrc: number[] = [];
  for (let i = 0; i < cc; i++) csrc.push(u32(data, RTP_HEADER_BYTES + 4 * i));
  if (extension) {
    // §5.3.1: a 16-bit profile field and a 16-bit length in 32-bit words, excluding itself.
    if (offset + 4 > len) return fail('ERR_RTP_TRUNCATED', 'extension header does not fit');
    offset += 4 + 4 * u16(data, offset + 2);
    if (offset > len) return fail('ERR_RTP_TRUNCATED', 'extension does not fit');
  }
  let paddingLength = 0;
  if (padding) {
    // §5.1: "The last octet of the padding contains a count of how many padding octets
    // should be ignored, including itself."
    paddingLength = data[len - 1]!;
    if (paddingLength === 0 || offset + paddingLength > len) {
      return fail('ERR_RTP_PADDING', `padding count ${paddingLength} invalid`);
    }
  }
  return {
    ok: true,
    header: {
      version,
      padding,
      extension,
      marker: (b1 & 0x80) !== 0,
      payloadType: b1 & 0x7f,
      sequenceNumber: u16(data, 2),
      timestamp: u32(data, 4),
      ssrc: u32(data, 8),
      csrc,
      payloadOffset: offset,
      payloadLength: len - offset - paddingLength,
      paddingLength,
    },
  };
}

export interface RtpPacketInit {
  readonly marker?: boolean;
  readonly payloadType: number;
  readonly sequenceNumber: number;
  readonly timestamp: number;
  readonly ssrc: number;
  readonly csrc?: readonly number[];
}

export function rtpEncodingLength(init: RtpPacketInit, payloadLength: number): number {
  return RTP_HEADER_BYTES + 4 * (init.csrc?.length ?? 0) + payloadLength;
}

/** Encode an RTP packet without extension or padding. Values are masked to their widths. */
export function encodeRtp(init: RtpPacketInit, payload: Uint8Array): Uint8Array {
  const csrc = init.csrc ?? [];
  if (csrc.length > 15) throw new RangeError('at most 15 CSRCs (§5.1 CC is 4 bits)');
  const out = new Uint8Array(rtpEncodingLength(init, payload.length));
  const dv = new DataView(out.buffer);
  out[0] = (RTP_VERSION << 6) | csrc.length;
  out[1] = (init.marker ? 0x80 : 0) | (init.payloadType & 0x7f);
  dv.setUint16(2, init.sequenceNumber & 0xffff);
  dv.setUint32(4, init.timestamp >>> 0);
  dv.setUint32(8, init.ssrc >>> 0);
  csrc.forEach((c, i) => dv.setUint32(RTP_HEADER_BYTES + 4 * i, c >>> 0));
  out.set(payload, RTP_HEADER_BYTES + 4 * csrc.length);
  return out;
}

// ---------------------------------------------------------------------------------------
// RTCP

/** One report block of an SR or RR (§6.4.1). */
export interface RtcpReportBlock {
  readonly ssrc: number;
  /** Fraction lost since the last report, as the 8-bit fixed-point value (/256). */
  readonly fractionLost: number;
  /** Cumulative packets lost: a signed 24-bit number. */
  readonly cumulativeLost: number;
  readonly highestSequence: number;
  /** Interarrival jitter in timestamp units. */
  readonly jitter: number;
  readonly lastSr: number;
  readonly delaySinceLastSr: number;
}

export interface RtcpSenderInfo {
  readonly ntpSeconds: number;
  readonly ntpFraction: number;
  readonly rtpTimestamp: number;
  readonly packetCount: number;
  readonly octetCount: number;
}

export interface RtcpPacket {
  readonly packetType: number;
  /** RC/SC/subtype field (5 bits). */
  readonly count: number;
  readonly padding: boolean;
  /** Bytes of this packet within the compound, header included. */
  readonly byteLength: number;
  /** SSRC of the sender (SR/RR) or first field after the header; undefined if absent. */
  readonly ssrc: number | undefined;
  readonly senderInfo?: RtcpSenderInfo;
  readonly reports?: readonly RtcpReportBlock[];
}

export type RtcpDecodeResult =
  | { readonly ok: true; readonly packets: readonly RtcpPacket[] }
  | { readonly ok: false; readonly error: RtpError };

function reportBlocks(
  data: Uint8Array,
  at: number,
  n: number,
  end: number,
): RtcpReportBlock[] | undefined {
  const blocks: RtcpReportBlock[] = [];
  for (let i = 0; i < n; i++) {
    const o = at + 24 * i;
    if (o + 24 > end) return undefined;
    const lost24 = (data[o + 5]! << 16) | (data[o + 6]! << 8) | data[o + 7]!;
    blocks.push({
      ssrc: u32(data, o),
      fractionLost: data[o + 4]!,
      cumulativeLost: lost24 & 0x800000 ? lost24 - 0x1000000 : lost24,
      highestSequence: u32(data, o + 8),
      jitter: u32(data, o + 12),
      lastSr: u32(data, o + 16),
      delaySinceLastSr: u32(data, o + 20),
    });
  }
  return blocks;
}

const isReport = (pt: number): boolean => pt === RTCP_SR || pt === RTCP_RR;
/** RFC 5761 §4: RTCP packet types 192-223, the range that cannot be an RTP payload type. */
const isRtcpType = (pt: number): boolean => pt >= 192 && pt <= 223;

/**
 * Decode a compound RTCP packet with the validity checks of RFC 3550 appendix A.2: version
 * 2 everywhere, the first packet an SR or RR ("the payload type field of the first RTCP
 * packet in a compound packet must be equal to SR or RR"), padding only on the last packet,
 * and the lengths adding up to the datagram length. SR/RR bodies are decoded; other types
 * keep only their common header. `reducedSize` lifts the first-packet rule to any RTCP
 * type (RFC 5506 §3.1 non-compound packets; baresip opens NAT pinholes with a lone APP
 * "PINGPONG" packet): what a relay that forwards RTCP, rather than reading it, accepts.
 */
export function decodeRtcp(
  data: Uint8Array,
  opts: { readonly reducedSize?: boolean } = {},
): RtcpDecodeResult {
  const len = data.length;
  if (len < 8) return fail('ERR_RTCP_TRUNCATED', `RTCP packet of ${len} bytes`);
  if (len > MAX_MEDIA_DATAGRAM) return fail('ERR_RTCP_LENGTH', `RTCP packet of ${len} bytes`);
  const packets: RtcpPacket[] = [];
  let o = 0;
  while (o < len) {
    if (o + 4 > len) return fail('ERR_RTCP_TRUNCATED', `trailing ${len - o} bytes`);
    const b0 = data[o]!;
    if (b0 >> 6 !== RTP_VERSION) return fail('ERR_RTCP_VERSION', `RTCP version ${b0 >> 6}`);
    const padding = (b0 & 0x20) !== 0;
    const count = b0 & 0x1f;
    const packetType = data[o + 1]!;
    // §6.4.1: "length: ... in 32-bit words minus one, including the header and any padding"
    const byteLength = 4 * (u16(data, o + 2) + 1);
    const end = o + byteLength;
    if (end > len) return fail('ERR_RTCP_LENGTH', `packet of ${byteLength} bytes at ${o} overruns`);
    if (o === 0 && !(opts.reducedSize ? isRtcpType(packetType) : isReport(packetType))) {
      return fail('ERR_RTCP_FIRST_TYPE', `compound starts with packet type ${packetType}`);
    }
    if (padding && end !== len) return fail('ERR_RTCP_PADDING', 'padding before the last packet');
    const ssrc = byteLength >= 8 ? u32(data, o + 4) : undefined;
    if (packetType === RTCP_SR) {
      if (byteLength < 28) return fail('ERR_RTCP_LENGTH', 'SR shorter than its sender info');
      const reports = reportBlocks(data, o + 28, count, end);
      if (!reports) return fail('ERR_RTCP_LENGTH', `SR with ${count} report blocks overruns`);
      packets.push({
        packetType,
        count,
        padding,
        byteLength,
        ssrc,
        senderInfo: {
          ntpSeconds: u32(data, o + 8),
          ntpFraction: u32(data, o + 12),
          rtpTimestamp: u32(data, o + 16),
          packetCount: u32(data, o + 20),
          octetCount: u32(data, o + 24),
        },
        reports,
      });
    } else if (packetType === RTCP_RR) {
      const reports = reportBlocks(data, o + 8, count, end);
      if (!reports || byteLength < 8)
        return fail('ERR_RTCP_LENGTH', `RR with ${count} report blocks overruns`);
      packets.push({ packetType, count, padding, byteLength, ssrc, reports });
    } else {
      packets.push({ packetType, count, padding, byteLength, ssrc });
    }
    o = end;
  }
  return { ok: true, packets };
}

export interface RtcpReportInit {
  readonly ssrc: number;
  readonly senderInfo?: RtcpSenderInfo;
  readonly reports?: readonly RtcpReportBlock[];
}

/** Encode one SR (when senderInfo is given) or RR, as the first packet of a compound. */
export function encodeRtcpReport(init: RtcpReportInit): Uint8Array {
  const reports = init.reports ?? [];
  if (reports.length > 31) throw new RangeError('at most 31 report blocks (§6.4.1 RC is 5 bits)');
  const head = init.senderInfo ? 28 : 8;
  const out = new Uint8Array(head + 24 * reports.length);
  const dv = new DataView(out.buffer);
  out[0] = (RTP_VERSION << 6) | reports.length;
  out[1] = init.senderInfo ? RTCP_SR : RTCP_RR;
  dv.setUint16(2, out.length / 4 - 1);
  dv.setUint32(4, init.ssrc >>> 0);
  const si = init.senderInfo;
  if (si) {
    dv.setUint32(8, si.ntpSeconds >>> 0);
    dv.setUint32(12, si.ntpFraction >>> 0);
    dv.setUint32(16, si.rtpTimestamp >>> 0);
    dv.setUint32(20, si.packetCount >>> 0);
    dv.setUint32(24, si.octetCount >>> 0);
  }
  reports.forEach((r, i) => {
    const o = head + 24 * i;
    dv.setUint32(o, r.ssrc >>> 0);
    dv.setUint32(o + 4, ((r.fractionLost & 0xff) << 24) | (r.cumulativeLost & 0xffffff));
    dv.setUint32(o + 8, r.highestSequence >>> 0);
    dv.setUint32(o + 12, r.jitter >>> 0);
    dv.setUint32(o + 16, r.lastSr >>> 0);
    dv.setUint32(o + 20, r.delaySinceLastSr >>> 0);
  });
  return out;
}
