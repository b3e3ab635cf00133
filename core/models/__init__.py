"""The kernel's shared data. Addons extend it with their own tables (never new columns)."""
from core.models.approval import ApprovalRequest, ApprovalVote
from core.models.audit import AuditLog, InstalledAddon
from core.models.cache import ConfigVersion
from core.models.customer import Customer, CustomerContact, Tag, customer_tag
from core.models.employee import ApiToken, Employee, Role, RolePermission, User, user_role
from core.models.files import FileRecord
from core.models.idempotency import IdempotencyRecord
from core.models.imports import ImportRun
from core.models.jobs import JobRun
from core.models.notify import MailMessage, Notification
from core.models.org import Company, Region, Store, Warehouse
from core.models.product import PriceList, PriceListItem, Product, ProductCategory
from core.models.sale import DocumentSequence, Sale, SaleAdjustment, SaleLine, SalePayment
from core.models.target import SalesTarget
from core.models.till import TillFavourite

KERNEL_MODELS = (
    Company, Region, Store, Warehouse, Tag, Customer, CustomerContact, ProductCategory, Product,
    PriceList, PriceListItem, Employee, Role, RolePermission, User, ApiToken, Sale, SaleLine,
    SaleAdjustment, SalePayment, DocumentSequence, AuditLog, InstalledAddon, JobRun,
    ApprovalRequest, ApprovalVote, ConfigVersion, IdempotencyRecord, Notification, MailMessage, FileRecord,
    ImportRun, TillFavourite, SalesTarget,
)

#: the kernel's plain (association) tables, declared through register_models like its classes
KERNEL_TABLES = (customer_tag, user_role)

__all__ = [m.__name__ for m in KERNEL_MODELS] + ["customer_tag", "user_role", "KERNEL_MODELS", "KERNEL_TABLES"]
