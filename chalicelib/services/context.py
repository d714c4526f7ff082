"""What every use case needs, built once per container and injected (tests build their own)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from chalicelib.adapters.accounting_settings_store import AccountingSettingsStore
from chalicelib.adapters.audit_store import AuditStore
from chalicelib.adapters.booking_store import BookingStore
from chalicelib.adapters.calendar_feed_store import CalendarFeedStore
from chalicelib.adapters.catalogue_store import Catalogue, CatalogueStore
from chalicelib.adapters.clock import Clock, SystemClock
from chalicelib.adapters.closure_store import ClosureStore
from chalicelib.adapters.company_admin_store import CompanyAdminStore
from chalicelib.adapters.company_store import CompanyStore
from chalicelib.adapters.directory_store import DirectoryStore
from chalicelib.adapters.dynamo import Table
from chalicelib.adapters.einvoice_store import EInvoiceStore
from chalicelib.adapters.ereport_store import EReportStore
from chalicelib.adapters.export_store import ExportStore
from chalicelib.adapters.idempotency_store import IdempotencyStore
from chalicelib.adapters.invoice_store import InvoiceStore
from chalicelib.adapters.mailer import SesMailer
from chalicelib.adapters.membership_store import MembershipStore
from chalicelib.adapters.outbox_store import OutboxStore
from chalicelib.adapters.payment_store import PaymentStore
from chalicelib.adapters.period_store import PeriodStore
from chalicelib.adapters.platform_settings_store import PlatformSettingsStore
from chalicelib.adapters.profile_store import ProfileStore
from chalicelib.adapters.rate_limit_store import RateLimitStore
from chalicelib.adapters.reconciliation_store import ReconciliationStore
from chalicelib.adapters.secrets import Secrets
from chalicelib.adapters.stats_store import StatsStore
from chalicelib.adapters.versioned_store import VersionedStore
from chalicelib.domain.catalogue import Relay, Resource
from chalicelib.errors import NotFound
from chalicelib.services.ports import Mailer, PaymentGateway

if TYPE_CHECKING:
    from chalicelib.config import Settings


class CatalogueCache:
    """The network catalogue, kept `ttl` seconds per container; a miss reloads it once."""

    def __init__(
        self, store: CatalogueStore, ttl: float, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._store = store
        self._ttl = ttl
        self._monotonic = monotonic
        self._loaded: tuple[float, Catalogue] | None = None

    def get(self, fresh: bool = False) -> Catalogue:
        now = self._monotonic()
        if fresh or self._loaded is None or now - self._loaded[0] > self._ttl:
            self._loaded = (now, self._store.load())
        return self._loaded[1]

    def invalidate(self) -> None:
        self._loaded = None

    def relay(self, relay_id: str) -> Relay:
        return self._find("relays", relay_id, "relay")

    def resource(self, resource_id: str) -> Resource:
        return self._find("resources", resource_id, "resource")

    def _find(self, bucket: str, key: str, label: str) -> Any:
        found = getattr(self.get(), bucket).get(key)
        if found is None:  # maybe created by another container since we loaded
            found = getattr(self.get(fresh=True), bucket).get(key)
        if found is None:
            raise NotFound(f"No {label} with id {key!r}.")
        return found


@dataclass
class Context:
    settings: Settings
    table: Table
    clock: Clock = field(default_factory=SystemClock)
    gateway_override: PaymentGateway | None = None
    mailer_override: Mailer | None = None

    def __post_init__(self) -> None:
        # Every store of the table, built here only: services reach storage through these
        # (cheap objects; the boto3 client is made on the first call).
        self.catalogue_store = CatalogueStore(self.table)
        self.bookings = BookingStore(self.table)
        self.payments = PaymentStore(self.table)
        self.invoices = InvoiceStore(self.table)
        self.memberships = MembershipStore(self.table)
        self.companies = CompanyStore(self.table)
        self.reconciliation = ReconciliationStore(self.table)
        self.outbox = OutboxStore(self.table)
        self.profiles = ProfileStore(self.table)
        self.calendar_feeds = CalendarFeedStore(self.table)
        self.periods = PeriodStore(self.table)
        self.einvoices = EInvoiceStore(self.table)
        self.platform_settings = PlatformSettingsStore(self.table)
        self.accounting_settings = AccountingSettingsStore(self.table)
        self.directory = DirectoryStore(self.table)
        self.ereports = EReportStore(self.table)
        self.rate_limits = RateLimitStore(self.table)
        self.idempotency = IdempotencyStore(self.table, self.settings.idempotency_ttl_seconds)
        # Catalogue edits, closures, audit trail, company administration, statistics.
        self.versioned = VersionedStore(self.table)
        self.audit_log = AuditStore(self.table)
        self.closures = ClosureStore(self.table)
        self.company_admin = CompanyAdminStore(self.table)
        self.stats = StatsStore(self.table)
        self.exports = ExportStore(self.table)
        self.catalogue = CatalogueCache(self.catalogue_store, self.settings.catalogue_cache_seconds)

        self._gateway: PaymentGateway | None = self.gateway_override
        self._gateway_key: str | None = None
        self._mailer: Mailer | None = self.mailer_override
        self.secrets = Secrets(self.settings)

    @property
    def gateway(self) -> PaymentGateway:
        """The Stripe gateway, built on first use (`stripe` is imported only then), and
        again when the API key was rotated in the parameter store."""
        if self.gateway_override is not None:
            return self.gateway_override
        key = self.secrets.stripe_api_key.get()
        if self._gateway is None or key != self._gateway_key:
            from chalicelib.adapters.stripe_gateway import StripeGateway

            gateway: PaymentGateway = StripeGateway(
                api_key=key, api_base=self.settings.stripe_api_base
            )
            self._gateway, self._gateway_key = gateway, key
        return self._gateway

    @property
    def mailer(self) -> Mailer | None:
        """The mailer: `mailer_override` (tests), else an SES mailer built from the settings
        on first use and kept (boto3 only at the first send); None while `MAIL_FROM` is
        unset: mail is off."""
        if self._mailer is None:
            self._mailer = ses_mailer(self.settings)
        return self._mailer


def ses_mailer(settings: Settings) -> Mailer | None:
    """An SES mailer from the settings; None while `MAIL_FROM` is unset (mail off)."""
    if not settings.mail_from:
        return None
    return SesMailer(
        region=settings.ses_region or settings.aws_region,
        sender=settings.mail_from,
        endpoint_url=settings.ses_endpoint_url,
        reply_to=settings.mail_reply_to,
    )


def build_context(settings: Settings, clock: Clock | None = None) -> Context:
    table = Table(settings.table_name, settings.aws_region, settings.dynamodb_endpoint_url)
    return Context(settings=settings, table=table, clock=clock or SystemClock())
