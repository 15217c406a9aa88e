// PEM blocks and private/public keys. Keys live as WebCrypto CryptoKeys (what @peculiar/x509 and jose sign
// with); on disk they are PKCS#8 "PRIVATE KEY" and PKIX "PUBLIC KEY" blocks. Reading also accepts the
// PKCS#1 "RSA PRIVATE KEY" and SEC1 "EC PRIVATE KEY" blocks that kubeadm and openssl write.
import { createHash, createPrivateKey, createPublicKey, type KeyObject, type webcrypto } from 'node:crypto';
import { PKIError } from './errors.js';
import { x509 } from './peculiar.js';

/** kubeadm's EncryptionAlgorithmType names. */
export type KeyAlgorithm = 'ECDSA-P256' | 'RSA-2048' | 'RSA-3072' | 'RSA-4096';

export interface KeyPair {
  readonly algorithm: KeyAlgorithm;
  readonly privateKey: CryptoKey;
  readonly publicKey: CryptoKey;
}

export interface PEMBlock {
  readonly type: string;
  readonly der: Buffer;
}

type CryptoKey = webcrypto.CryptoKey;
const subtle = globalThis.crypto.subtle;
const BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Every PEM block in `text`, in order; text between blocks is ignored, as Go's pem.Decode loop does. */
export function decodePEM(text: string): PEMBlock[] {
  const blocks: PEMBlock[] = [];
  for (const m of text.matchAll(BLOCK)) {
    const [, type = '', body = ''] = m;
    // Encrypted legacy PEM carries "Proc-Type:"/"DEK-Info:" headers; we never read those.
    if (/^\s*[A-Za-z-]+:/m.test(body)) throw new PKIError('InvalidPEM', `PEM block "${type}" has headers (encrypted?); only plain blocks are supported`);
    const b64 = body.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) throw new PKIError('InvalidPEM', `PEM block "${type}" is not valid base64`);
    blocks.push({ type, der: Buffer.from(b64, 'base64') });
  }
  return blocks;
}

/** One PEM block with 64-column lines and a trailing newline. */
export function encodePEM(type: string, der: Uint8Array | ArrayBuffer): string {
  const b64 = Buffer.from(der instanceof ArrayBuffer ? new Uint8Array(der) : der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${type}-----\n${lines.join('\n')}${lines.length ? '\n' : ''}-----END ${type}-----\n`;
}

/** All CERTIFICATE blocks of a PEM bundle; throws InvalidPEM when there are none. */
export function decodeCertificatesPEM(text: string): x509.X509Certificate[] {
  const certs = decodePEM(text)
    .filter((b) => b.type === 'CERTIFICATE')
    .map((b) => {
      try {
        return new x509.X509Certificate(b.der);
      } catch (err) {
        throw new PKIError('InvalidPEM', `a CERTIFICATE block does not parse: ${(err as Error).message}`, { cause: err });
      }
    });
  if (certs.length === 0) throw new PKIError('InvalidPEM', 'no CERTIFICATE block found');
  return certs;
}

/** The first certificate of a PEM bundle (the leaf, by TLS convention). */
export function decodeCertificatePEM(text: string): x509.X509Certificate {
  return decodeCertificatesPEM(text)[0] as x509.X509Certificate;
}

export function encodeCertificatePEM(cert: x509.X509Certificate): string {
  return encodePEM('CERTIFICATE', cert.rawData);
}

function importParams(alg: KeyAlgorithm): webcrypto.RsaHashedImportParams | webcrypto.EcKeyImportParams {
  return alg === 'ECDSA-P256'
    ? { name: 'ECDSA', namedCurve: 'P-256' }
    : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' };
}

/** The WebCrypto parameters to sign a certificate, CSR or JWS with a key of this algorithm (SHA-256 always). */
export function signingParams(alg: KeyAlgorithm): webcrypto.Algorithm | webcrypto.EcdsaParams {
  return alg === 'ECDSA-P256' ? { name: 'ECDSA', hash: 'SHA-256' } : { name: 'RSASSA-PKCS1-v1_5' };
}

/** A new extractable key pair. ECDSA P-256 takes a few ms; RSA 2048 ~100–300 ms. */
export async function generateKeyPair(algorithm: KeyAlgorithm = 'ECDSA-P256'): Promise<KeyPair> {
  const params =
    algorithm === 'ECDSA-P256'
      ? { name: 'ECDSA', namedCurve: 'P-256' }
      : { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256', publicExponent: new Uint8Array([1, 0, 1]), modulusLength: Number(algorithm.slice(4)) };
  const pair = (await subtle.generateKey(params, true, ['sign', 'verify'])) as webcrypto.CryptoKeyPair;
  return { algorithm, privateKey: pair.privateKey, publicKey: pair.publicKey };
}

function algorithmOf(key: KeyObject): KeyAlgorithm {
  const d = key.asymmetricKeyDetails;
  if (key.asymmetricKeyType === 'ec' && d?.namedCurve === 'prime256v1') return 'ECDSA-P256';
  if (key.asymmetricKeyType === 'rsa' && (d?.modulusLength === 2048 || d?.modulusLength === 3072 || d?.modulusLength === 4096)) {
    return `RSA-${d.modulusLength}` as KeyAlgorithm;
  }
  const what = key.asymmetricKeyType === 'ec' ? `EC ${d?.namedCurve ?? '?'}` : `${key.asymmetricKeyType ?? '?'} ${d?.modulusLength ?? ''}`;
  throw new PKIError('UnsupportedKey', `unsupported key type ${what.trim()}: only ECDSA P-256 and RSA 2048/3072/4096 are supported`);
}

/** Turns a Node KeyObject (private) into our KeyPair. */
export async function keyPairFromKeyObject(privateKey: KeyObject): Promise<KeyPair> {
  const algorithm = algorithmOf(privateKey);
  const params = importParams(algorithm);
  const pkcs8 = privateKey.export({ type: 'pkcs8', format: 'der' });
  const spki = createPublicKey(privateKey).export({ type: 'spki', format: 'der' });
  const [priv, pub] = await Promise.all([
    subtle.importKey('pkcs8', pkcs8, params, true, ['sign']),
    subtle.importKey('spki', spki, params, true, ['verify']),
  ]);
  return { algorithm, privateKey: priv, publicKey: pub };
}

/** Reads the first private key in `pem` (PKCS#8, PKCS#1 RSA or SEC1 EC) and derives its public key. */
export async function decodePrivateKeyPEM(pem: string): Promise<KeyPair> {
  const block = decodePEM(pem).find((b) => /^(|RSA |EC )PRIVATE KEY$/.test(b.type) || b.type === 'ENCRYPTED PRIVATE KEY');
  if (!block) throw new PKIError('InvalidPEM', 'no PRIVATE KEY block found');
  if (block.type === 'ENCRYPTED PRIVATE KEY') throw new PKIError('UnsupportedKey', 'the private key is encrypted; k8ts reads only unencrypted keys');
  let key: KeyObject;
  try {
    key = createPrivateKey({ key: encodePEM(block.type, block.der), format: 'pem' });
  } catch (err) {
    throw new PKIError('InvalidPEM', `the ${block.type} block does not parse: ${(err as Error).message}`, { cause: err });
  }
  return keyPairFromKeyObject(key);
}

/** PKCS#8 "PRIVATE KEY" PEM. */
export async function encodePrivateKeyPEM(key: KeyPair): Promise<string> {
  return encodePEM('PRIVATE KEY', await subtle.exportKey('pkcs8', key.privateKey));
}

/** DER SubjectPublicKeyInfo of a public key. */
export async function publicKeySPKI(publicKey: CryptoKey): Promise<Buffer> {
  return Buffer.from(await subtle.exportKey('spki', publicKey));
}

/** PKIX "PUBLIC KEY" PEM, as kubeadm writes sa.pub. */
export async function encodePublicKeyPEM(publicKey: CryptoKey): Promise<string> {
  return encodePEM('PUBLIC KEY', await publicKeySPKI(publicKey));
}

/** Every public key in `pem`: "PUBLIC KEY", "RSA PUBLIC KEY" blocks and the keys of "CERTIFICATE" blocks (as --service-account-key-file reads). */
export function decodePublicKeysPEM(pem: string): KeyObject[] {
  const keys: KeyObject[] = [];
  for (const b of decodePEM(pem)) {
    try {
      if (b.type === 'PUBLIC KEY') keys.push(createPublicKey({ key: b.der, format: 'der', type: 'spki' }));
      else if (b.type === 'RSA PUBLIC KEY') keys.push(createPublicKey({ key: b.der, format: 'der', type: 'pkcs1' }));
      else if (b.type === 'CERTIFICATE') keys.push(createPublicKey(encodePEM(b.type, b.der)));
    } catch (err) {
      throw new PKIError('InvalidPEM', `a ${b.type} block does not hold a public key: ${(err as Error).message}`, { cause: err });
    }
  }
  if (keys.length === 0) throw new PKIError('InvalidPEM', 'no PUBLIC KEY or CERTIFICATE block found');
  return keys;
}

/** True when both keys are the same public key (compared by SPKI bytes). */
export async function samePublicKey(a: CryptoKey, b: CryptoKey): Promise<boolean> {
  const [x, y] = await Promise.all([publicKeySPKI(a), publicKeySPKI(b)]);
  return x.equals(y);
}

export function sha256Hex(data: Uint8Array | ArrayBuffer): string {
  return createHash('sha256').update(data instanceof ArrayBuffer ? new Uint8Array(data) : data).digest('hex');
}
