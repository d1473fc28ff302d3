export { SCRYPT_PARAMS, hashSecret, parseCredential, verifySecret, parseCredentialsFile, loadCredentials, type Credential } from './credentials.js';
