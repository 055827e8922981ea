"""company_save: a company and its account owners in one transaction."""

from __future__ import annotations

import pytest

from feedback import services
from feedback.models import Company
from productops.errors import ValidationFailed
from productops.models import AuditEvent, Role
from tests.productops.factories import UserFactory

pytestmark = pytest.mark.django_db


def test_a_company_is_created_with_its_owners(workspace, member):
    pm = member(workspace, Role.PRODUCT_MANAGER).user
    seller = member(workspace, Role.CONTRIBUTOR).user

    company = services.company_save(
        workspace=workspace, company=None, actor=pm, data={"name": "Initech"}, owners=[seller]
    )

    assert (company.name, list(company.account_owners.all())) == ("Initech", [seller])
    assert AuditEvent.objects.filter(target_type="feedback.company", target_id=str(company.pk)).count() == 2


def test_an_owner_who_is_not_a_member_writes_nothing(workspace, member):
    pm = member(workspace, Role.PRODUCT_MANAGER).user
    audits = AuditEvent.objects.count()

    with pytest.raises(ValidationFailed) as refused:
        services.company_save(
            workspace=workspace, company=None, actor=pm, data={"name": "Initech"}, owners=[UserFactory()]
        )

    assert refused.value.attr == "account_owners"
    assert Company.objects.count() == 0
    assert AuditEvent.objects.count() == audits
