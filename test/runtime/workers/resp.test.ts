/**
 * The Worker's RESP codec, against a real redis-server over a plain TCP socket: what it encodes
 * Redis runs, and every reply Redis gives is decoded the same however its bytes are split.
 */
import { connect } from 'node:net';
import { describe, expect, inject, it } from 'vitest';
import { encodeCommand, RespError, RespReader, type Reply } from '../../../src/runtime/workers/resp.js';
import { unique } from '../../helpers.js';

/** Sends the commands in one write and returns the raw reply bytes once `count` replies are in. */
async function roundTrip(commands: (string | number)[][]): Promise<Uint8Array> {
  const url = new URL(inject('redisUrl'));
  const socket = connect(Number(url.port), url.hostname);
  const chunks: Buffer[] = [];
  const reader = new RespReader();
  let replies = 0;
  return new Promise((resolve, reject) => {
    socket.on('error', reject);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      reader.push(chunk);
      while (reader.next() !== RespReader.INCOMPLETE) replies++;
      if (replies === commands.length) {
        socket.end();
        resolve(new Uint8Array(Buffer.concat(chunks)));
      }
    });
    socket.write(Buffer.concat(commands.map((c) => encodeCommand(c))));
  });
}

function decodeAll(bytes: Uint8Array, chunkSize: number): Reply[] {
  const reader = new RespReader();
  const out: Reply[] = [];
  for (let at = 0; at < bytes.length; at += chunkSize) {
    reader.push(bytes.subarray(at, at + chunkSize));
    for (let r = reader.next(); r !== RespReader.INCOMPLETE; r = reader.next()) out.push(r);
  }
  return out;
}

describe('RESP codec (the Worker’s Redis port)', () => {
  it('decodes strings, integers, nils, nested arrays and errors alike for any split of the bytes', async () => {
    const key = unique('resp');
    const bytes = await roundTrip([
      ['SET', key, 'héllo wörld ✓\r\nsecond line'],
      ['GET', key],
      ['GET', `${key}:missing`],
      ['HSET', `${key}:h`, 'a', 1, 'b', ''],
      ['HGETALL', `${key}:h`],
      ['EVAL', "return {1, 'two', {3, false}, {}}", 0],
      ['EVALSHA', 'ffffffffffffffffffffffffffffffffffffffff', 0],
      ['PING'],
      ['DEL', key, `${key}:h`],
    ]);
    const whole = decodeAll(bytes, bytes.length);
    expect(whole.slice(0, 6)).toEqual([
      'OK',
      'héllo wörld ✓\r\nsecond line',
      null,
      2,
      ['a', '1', 'b', ''],
      [1, 'two', [3, null], []],
    ]);
    expect(whole[6]).toBeInstanceOf(RespError);
    expect((whole[6] as RespError).message).toMatch(/^NOSCRIPT/);
    expect(whole.slice(7)).toEqual(['PONG', 2]);
    for (const size of [1, 2, 3, 7]) expect(decodeAll(bytes, size)).toEqual(whole);
  });
});
