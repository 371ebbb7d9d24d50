import { randomBytes } from 'node:crypto';

/** A fresh API key: 24 random bytes (192 bits), base64url, `pvn_` prefix. */
export const generateApiKey = (): string => 'pvn_' + randomBytes(24).toString('base64url');
