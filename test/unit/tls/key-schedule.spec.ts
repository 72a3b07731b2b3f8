/**
 * The TLS 1.3 key schedule against RFC 8448 §3 ("Simple 1-RTT Handshake", TLS_AES_128_GCM_SHA256):
 * the ECDHE shared secret and transcript hashes of the trace in, every secret, key and IV of the
 * trace out. Values copied from RFC 8448 §3.
 */
import assert from 'node:assert/strict';
import { applicationSecrets, EMPTY_HASH, handshakeSecrets, hkdfExtract, trafficKeys, deriveSecret } from '../../../src/tls/key-schedule.js';
import { hex, unhex } from '../../../src/util/bytes.js';
import { NodeTlsCrypto } from '../../../tools/node/node-tls-crypto.js';
import { createHash } from 'node:crypto';

const RFC8448 = {
  ecdhe: '8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d',
  early: '33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a',
  derivedForHandshake: '6f2615a108c702c5678f54fc9dbab69716c076189c48250cebeac3576c3611ba',
  handshake: '1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac',
  hashClientHelloServerHello: '860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8',
  clientHandshakeTraffic: 'b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21',
  serverHandshakeTraffic: 'b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38',
  serverHandshakeKey: '3fce516009c21727d0f2e4e86ee403bc',
  serverHandshakeIv: '5d313eb2671276ee13000b30',
  master: '18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919',
  hashToServerFinished: '9608102a0f1ccc6db6250b7b7e417b1a000eaada3daae4777a7686c9ff83df13',
  clientApplicationTraffic: '9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5',
  serverApplicationTraffic: 'a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643',
};

describe('tls: key schedule (RFC 8448 §3)', () => {
  const crypto = new NodeTlsCrypto();

  it('early secret and the "derived" secret', () => {
    assert.equal(hex(EMPTY_HASH), createHash('sha256').digest('hex'));
    const early = hkdfExtract(crypto, new Uint8Array(0), new Uint8Array(32));
    assert.equal(hex(early), RFC8448.early);
    assert.equal(hex(deriveSecret(crypto, early, 'derived', EMPTY_HASH)), RFC8448.derivedForHandshake);
  });

  it('handshake secrets and the server handshake key and IV', () => {
    const s = handshakeSecrets(crypto, unhex(RFC8448.ecdhe), unhex(RFC8448.hashClientHelloServerHello));
    assert.equal(hex(s.handshake), RFC8448.handshake);
    assert.equal(hex(s.clientHandshake), RFC8448.clientHandshakeTraffic);
    assert.equal(hex(s.serverHandshake), RFC8448.serverHandshakeTraffic);
    const k = trafficKeys(crypto, s.serverHandshake);
    assert.equal(hex(k.key), RFC8448.serverHandshakeKey);
    assert.equal(hex(k.iv), RFC8448.serverHandshakeIv);
  });

  it('master secret and application traffic secrets', () => {
    const s = applicationSecrets(crypto, unhex(RFC8448.handshake), unhex(RFC8448.hashToServerFinished));
    assert.equal(hex(s.master), RFC8448.master);
    assert.equal(hex(s.clientApplication), RFC8448.clientApplicationTraffic);
    assert.equal(hex(s.serverApplication), RFC8448.serverApplicationTraffic);
  });
});
