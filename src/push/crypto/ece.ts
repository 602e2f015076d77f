import { createCipheriv, createDecipheriv } from 'node:crypto';
import { hkdfExpand, hmacSha256 } from './hkdf.js';

/**
 * RFC 8188 `aes128gcm` content coding: a header (salt, record size, key id)
 * then records of AES-128-GCM, each plaintext followed by a delimiter (0x01,
 * or 0x02 for the last record) and zero padding; record i uses the nonce
 * XOR i. Herald uses it for RFC 8291 (one record), but the coding is general.
 */

const TAG = 16;
const CEK_INFO = Buffer.from('Content-Encoding: aes128gcm\0');
const NONCE_INFO = Buffer.from('Content-Encoding: nonce\0');

export interface EceKeys {
  cek: Buffer;
  nonce: Buffer;
}

export function deriveEceKeys(ikm: Buffer, salt: Buffer): EceKeys {
  const prk = hmacSha256(salt, ikm);
  return { cek: hkdfExpand(prk, CEK_INFO, 16), nonce: hkdfExpand(prk, NONCE_INFO, 12) };
}

function recordNonce(base: Buffer, seq: number): Buffer {
  const n = Buffer.from(base);
  // The sequence number is XORed into the low 6 bytes (48 bits suffice for any body we handle).
  for (let i = 0; i < 6; i++) n[11 - i] = (n[11 - i] as number) ^ (Math.floor(seq / 2 ** (8 * i)) & 0xff);
  return n;
}

export interface EceEncryptOptions {
  ikm: Buffer;
  salt: Buffer;
  /** Record size, 18 or more: each non-final record is exactly this long. */
  rs: number;
  keyid?: Buffer;
  /** Data bytes per record, when the split matters (test vectors); greedy otherwise. */
  recordSizes?: number[];
  /** Zero bytes appended after the final record's delimiter, to hide the length. */
  finalPadding?: number;
}

export function eceEncrypt(plaintext: Buffer, o: EceEncryptOptions): Buffer {
  const keyid = o.keyid ?? Buffer.alloc(0);
  if (o.rs < 18) throw new Error('record size must be at least 18');
  if (keyid.length > 255) throw new Error('key id too long');
  const capacity = o.rs - TAG - 1;
  const sizes: number[] = o.recordSizes ? [...o.recordSizes] : [];
  if (!o.recordSizes) {
    for (let left = plaintext.length; ; left -= capacity) {
      sizes.push(Math.min(left, capacity));
      if (left <= capacity) break;
    }
  }
  if (sizes.reduce((a, b) => a + b, 0) !== plaintext.length) throw new Error('record sizes do not add up to the plaintext');
  const finalPad = o.finalPadding ?? 0;
  const { cek, nonce } = deriveEceKeys(o.ikm, o.salt);
  const header = Buffer.alloc(21 + keyid.length);
  o.salt.copy(header, 0);
  header.writeUInt32BE(o.rs, 16);
  header[20] = keyid.length;
  keyid.copy(header, 21);
  const parts: Buffer[] = [header];
  let offset = 0;
  sizes.forEach((size, i) => {
    const last = i === sizes.length - 1;
    const pad = last ? finalPad : capacity - size;
    if (size + 1 + pad > o.rs - TAG) throw new Error('a record exceeds the record size');
    const block = Buffer.alloc(size + 1 + pad);
    plaintext.copy(block, 0, offset, offset + size);
    block[size] = last ? 2 : 1;
    offset += size;
    const c = createCipheriv('aes-128-gcm', cek, recordNonce(nonce, i));
    parts.push(c.update(block), c.final(), c.getAuthTag());
  });
  return Buffer.concat(parts);
}

export interface EceHeader {
  salt: Buffer;
  rs: number;
  keyid: Buffer;
  /** Where the records start. */
  length: number;
}

function parseEceHeader(body: Buffer): EceHeader {
  if (body.length < 21) throw new Error('body shorter than the aes128gcm header');
  const idlen = body[20] as number;
  if (body.length < 21 + idlen) throw new Error('truncated key id');
  return { salt: body.subarray(0, 16), rs: body.readUInt32BE(16), keyid: body.subarray(21, 21 + idlen), length: 21 + idlen };
}

/** Decrypts an aes128gcm body; `ikmFor` gets the header's key id. Throws on any tampering. */
export function eceDecrypt(body: Buffer, ikmFor: (keyid: Buffer) => Buffer): Buffer {
  const h = parseEceHeader(body);
  if (h.rs < 18) throw new Error('invalid record size');
  const { cek, nonce } = deriveEceKeys(ikmFor(h.keyid), h.salt);
  const out: Buffer[] = [];
  let seq = 0;
  for (let pos = h.length; pos < body.length; pos += h.rs, seq++) {
    const record = body.subarray(pos, Math.min(pos + h.rs, body.length));
    if (record.length <= TAG) throw new Error('truncated record');
    const d = createDecipheriv('aes-128-gcm', cek, recordNonce(nonce, seq));
    d.setAuthTag(record.subarray(record.length - TAG));
    const plain = Buffer.concat([d.update(record.subarray(0, record.length - TAG)), d.final()]);
    let end = plain.length - 1;
    while (end >= 0 && plain[end] === 0) end--;
    const last = pos + h.rs >= body.length;
    if (end < 0 || plain[end] !== (last ? 2 : 1)) throw new Error('invalid record delimiter');
    out.push(plain.subarray(0, end));
  }
  if (seq === 0) throw new Error('no records');
  return Buffer.concat(out);
}
