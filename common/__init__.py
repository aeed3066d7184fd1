"""What both services, the CLI, the sweeper and the benchmarks share.

Two kinds of code, told apart at a glance:

- plumbing that names no product, order or customer: `config`, `errors`, `calendar`, `db/`,
  `web/`, `schemas/`, `models/`, `migrations/`;
- one package per shared business domain: `identity/`, `catalog/`, `imports/`, `inventory/`,
  `reservations/`, `sales/`, `wallet/`, `orders/`, `reviews/`;

and the operator's tools apart from both, in `ops/` (command line, demo store, sweeper).
Plumbing imports no domain package; nothing here imports a service.
"""

__version__ = "0.1.0"
