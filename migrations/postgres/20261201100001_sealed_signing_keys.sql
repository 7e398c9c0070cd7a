-- Private signing keys are sealed with STAYBASE_SECRET_KEY when it is set ("v1:" + base64 of
-- nonce and ciphertext); rows written without it hold the PKCS#8 DER in base64 until the
-- server, started with the key, seals them. The column holds either form, so it is renamed.
ALTER TABLE signing_keys RENAME COLUMN private_key_der TO private_key;
