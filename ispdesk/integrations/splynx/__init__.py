"""The Splynx REST API 2.0 client: plain dataclasses out, one error type, no Django models.

- `client.SplynxClient(SplynxSettings(...))`: tickets, ticket messages, statuses/groups/types,
  customers, administrators (see PROTOCOLS.md for the protocol facts).
- `errors.SplynxError(message, permanent, status, maybe_created)`: the only error raised.
- `search.Condition` / `search_params`: the `main_attributes` search syntax.
- `records`: the typed dataclasses and the tolerant parsing of Splynx's string fields.
"""
