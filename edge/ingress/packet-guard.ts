import type { Client } from 'aedes';

/**
 * The packet size limit, applied where aedes reads its socket. It reads only the MQTT fixed
 * headers:
 *
 *   byte 0: packet type and flags | bytes 1..4: remaining length (varint, 7 bits a byte)
 *
 * A packet that declares more than `maxPacketBytes` in total, or a length field longer than
 * 4 bytes (malformed), closes the connection before its body is buffered. aedes 1.x has no
 * packet size limit of its own: without this, one client declaring 256 MB could make the
 * gateway hold 256 MB. Over WebSocket an MQTT packet may span many frames, so the frame size
 * limit alone does not bound it; this guard sees the reassembled byte stream on every listener.
 *
 * It is installed by wrapping the connection's MQTT parser (`client._parser.parse`, aedes 1.x),
 * not as a stream between socket and parser: a stream per connection cost a tenth of the
 * agent's CPU at full load and a few KB of memory per vehicle. Every byte aedes parses passes
 * through `scan` first, and the socket keeps aedes's own flow control (it reads the next chunk
 * only when the previous chunk's packets are handled, that is stored).
 */
export type GuardViolation = 'oversize' | 'malformed_length';

export class PacketSizeScanner {
  private skip = 0;
  private inHeader = false;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;

  constructor(private readonly maxPacketBytes: number) {}

  /** Reads the fixed headers in the next chunk of the stream; the first violation, if any. */
  scan(chunk: Uint8Array): { violation: GuardViolation; declaredBytes: number } | undefined {
    let i = 0;
    while (i < chunk.length) {
      if (this.skip > 0) {
        const n = Math.min(this.skip, chunk.length - i);
        this.skip -= n;
        i += n;
        continue;
      }
      if (!this.inHeader) {
        // First byte of a fixed header: type and flags (the parser judges them).
        this.inHeader = true;
        this.length = 0;
        this.multiplier = 1;
        this.lengthBytes = 0;
        i += 1;
        continue;
      }
      const b = chunk[i]!;
      i += 1;
      this.length += (b & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      this.lengthBytes += 1;
      if (b & 0x80) {
        if (this.lengthBytes >= 4) return { violation: 'malformed_length', declaredBytes: this.length };
        continue;
      }
      const total = 1 + this.lengthBytes + this.length;
      if (total > this.maxPacketBytes) return { violation: 'oversize', declaredBytes: total };
      this.skip = this.length;
      this.inHeader = false;
    }
    return undefined;
  }
}

interface ParserHost {
  _parser?: { parse?: (buf: Buffer) => number };
  conn: { destroy: (error?: Error) => unknown };
}

/**
 * Puts a PacketSizeScanner in front of an aedes client's parser. Call it right after
 * `aedes.handle()`, before the socket's first read. On a violation the connection is destroyed
 * and the chunk never reaches the parser. Throws if this aedes has no `_parser.parse` (a
 * changed aedes must fail loudly, not run unguarded).
 */
export function guardClient(client: Client, maxPacketBytes: number, onViolation: (violation: GuardViolation, declaredBytes: number) => void): void {
  const host = client as unknown as ParserHost;
  const parser = host._parser;
  if (typeof parser?.parse !== 'function') throw new Error('this aedes has no client._parser.parse: the packet size guard cannot be installed (aedes 1.x expected)');
  const scanner = new PacketSizeScanner(maxPacketBytes);
  const parse = parser.parse.bind(parser);
  let violated = false;
  parser.parse = (buf: Buffer): number => {
    if (violated) return 0;
    const found = scanner.scan(buf);
    if (found === undefined) return parse(buf);
    violated = true;
    onViolation(found.violation, found.declaredBytes);
    host.conn.destroy();
    return 0;
  };
}
