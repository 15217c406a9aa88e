// The one entry to @peculiar/x509 in k8ts: it loads the Reflect metadata shim first (the library throws at
// import without one) and points the library at Node's WebCrypto. Import x509 from here, never directly.
import './reflectMetadata.js';
import * as x509 from '@peculiar/x509';

x509.cryptoProvider.set(globalThis.crypto);

export { x509 };
