"""Account identity rules shared by every layer: what makes two email addresses the same account.

`normalize_email` is THE comparison form of an address. Registration stores it (Postgres `users.email_key`, unique),
login looks accounts up by it, and the per-account login rate-limit bucket is keyed by its digest; Postgres never
folds case on its own. Why NFKC + full case folding (Unicode's "NFKC_Casefold" idea, spelled with the stdlib):

- case-insensitive addresses are what every mail provider and user expects ("Ann@X.org" is "ann@x.org");
- `str.casefold()` is the full Unicode folding, the same on every machine (Postgres `lower()` depends on the
  database's locale: in C.UTF-8 it maps `İ` (U+0130) to `i`, while Python maps it to `i` + U+0307, which split
  one account's login bucket and let look-alikes register);
- NFKC first folds compatibility look-alikes (fullwidth `ｅ`, the `ﬁ` ligature, the Kelvin sign, superscripts)
  onto their plain letters, and NFKC again after folding re-composes what folding decomposed.

Not folded on purpose: different scripts (Cyrillic `а` is another mailbox than Latin `a`; a confusable-skeleton
check is a product decision about display names, not about identity) and provider-specific rules (dots and
`+tags` in Gmail addresses), which would merge mailboxes that really are different elsewhere.
"""

from __future__ import annotations

import hashlib
import unicodedata


def normalize_email(email: str) -> str:
    """The comparison form of an email address: trimmed, NFKC, fully case-folded, NFKC again."""
    folded = unicodedata.normalize("NFKC", email.strip()).casefold()
    return unicodedata.normalize("NFKC", folded).strip()


def email_digest(email: str) -> str:
    """sha256 (hex) of an address's comparison form: how an account is named where the address must not appear
    (rate-limit keys in Redis, logs)."""
    return hashlib.sha256(normalize_email(email).encode()).hexdigest()
