"""The public API of the campaign addon: other addons import only this module (or
``hookspecs.py``). Each function flushes; the caller owns the transaction."""
from __future__ import annotations

from .audience import (MATRIX_CODES, RFM_CODES, count_rules, delivery_counts, matrix_rules, rfm_matrix, rfm_rules,
                       save_segment, set_income, snapshot, value_income_matrix)
from .channels import ChannelAdapter, ChannelError, Message, channels
from .consent import opt_out, opt_outs_of, unsubscribe
from .plans import APPROVE_ACTION, finish, save_plan, start, submit, sync_rejection
from .rendering import preview, render, unsubscribe_token
from .results import results
from .sending import send_due
from .triggers import evaluate as evaluate_triggers
from .triggers import evaluate_plan as evaluate_trigger
from .triggers import kinds as trigger_kinds

__all__ = ["APPROVE_ACTION", "ChannelAdapter", "ChannelError", "MATRIX_CODES", "Message", "RFM_CODES", "channels", "count_rules",
           "delivery_counts", "evaluate_trigger", "evaluate_triggers", "finish", "matrix_rules", "opt_out", "opt_outs_of", "preview", "render", "results", "rfm_matrix",
           "rfm_rules", "save_plan", "save_segment", "send_due", "set_income", "snapshot", "start", "submit", "sync_rejection",
           "trigger_kinds", "unsubscribe", "unsubscribe_token", "value_income_matrix"]
