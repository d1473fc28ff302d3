import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';

/**
 * Sits between a socket and the MQTT parser and reads only the MQTT fixed headers:
 *
 *   byte 0: packet type and flags | bytes 1..4: remaining length (varint, 7 bits a byte)
 *
 * A packet that declares more than `maxPacketBytes` in total, or a length field longer than
 * 4 bytes (malformed), closes the connection before its body is buffered. aedes 1.x has no
 * packet size limit of its own: without this, one client declaring 256 MB could make the
 * gateway hold 256 MB. Bytes pass through unchanged; socket backpressure is kept (the socket
 * pauses while the parser is not reading). It guards TCP, TLS and WebSocket streams alike: over
 * WebSocket an MQTT packet may span many frames, so the frame size limit alone does not bound it.
 */
export type GuardViolation = 'oversize' | 'malformed_length';

export class PacketGuard extends Duplex {
  private skip = 0;
  private inHeader = false;
  private length = 0;
  private multiplier = 1;
  private lengthBytes = 0;

  /** Forwarded for aedes: TLS state and the peer certificate (mTLS identity). */
  readonly authorized: boolean | undefined;
  readonly remoteAddress: string | undefined;

  constructor(
    readonly socket: Socket | Duplex,
    private readonly maxPacketBytes: number,
    private readonly onViolation: (violation: GuardViolation, declaredBytes: number) => void,
  ) {
    super({ allowHalfOpen: false });
    this.authorized = (socket as TLSSocket).authorized;
    this.remoteAddress = (socket as Socket).remoteAddress;
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('end', () => this.push(null));
    socket.on('close', () => this.destroy());
    socket.on('error', (err) => this.destroy(err));
    socket.on('drain', () => this.emit('drain'));
  }

  getPeerCertificate(): ReturnType<TLSSocket['getPeerCertificate']> | undefined {
    const tls = this.socket as TLSSocket;
    return typeof tls.getPeerCertificate === 'function' ? tls.getPeerCertificate() : undefined;
  }

  setNoDelay(noDelay?: boolean): this {
    (this.socket as Partial<Socket>).setNoDelay?.(noDelay);
    return this;
  }

  private onData(chunk: Buffer): void {
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
        if (this.lengthBytes >= 4) return this.violate('malformed_length', this.length);
        continue;
      }
      const total = 1 + this.lengthBytes + this.length;
      if (total > this.maxPacketBytes) return this.violate('oversize', total);
      this.skip = this.length;
      this.inHeader = false;
    }
    if (!this.push(chunk)) this.socket.pause();
  }

  private violate(violation: GuardViolation, declared: number): void {
    this.onViolation(violation, declared);
    this.socket.destroy();
    this.destroy();
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.socket.destroyed) return callback();
    this.socket.write(chunk, callback);
  }

  /** Acks released together by one log flush go out in one write (one syscall), not one each. */
  override _writev(chunks: { chunk: Buffer }[], callback: (error?: Error | null) => void): void {
    if (this.socket.destroyed) return callback();
    this.socket.write(chunks.length === 1 ? chunks[0]!.chunk : Buffer.concat(chunks.map((c) => c.chunk)), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.socket.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.socket.destroy();
    callback(error);
  }
}
