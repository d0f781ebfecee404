"""Signature and hash suites (intl, gm), SM2 through OpenSSL, custody of private keys."""
