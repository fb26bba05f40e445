"""Simulating a campaign or a loyalty program over real orders.

    POST campaigns/{id}/simulate          replay a discount or free-shipping campaign (ADMIN)
    POST loyalty/programs/{id}/simulate   replay a loyalty program (ADMIN)
    GET  simulations/{id}                 a run: status, progress, result when done

Small windows answer 200 with the finished run; larger ones (over
``SIMULATION_INLINE_MAX_ORDERS`` orders) 202 with the run to poll. The program route lives
here beside the campaign's (a program is a campaign row; one view serves both kinds).
``urlpatterns`` is included under /api/v1/; the trailing slash is optional.
"""

from django.urls import re_path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.generics import GenericAPIView
from rest_framework.request import Request
from rest_framework.response import Response

from campaigns.api.offers import DB_BIGINT
from campaigns.models import Campaign, CampaignKind, SimulationRun, SimulationStatus
from campaigns.simulation.runs import MAX_DAYS, MIN_DAYS, simulation_start
from lms.api.permissions import IsAdminOrModelPermission
from lms.api.schema import error_responses
from lms.api.serializers import StrictInput
from lms.api.validation import validated
from lms.errors import NotFound


class WholeNumberField(serializers.IntegerField):
    """An integer given as a JSON number: no "7" strings, no 7.5, no booleans."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int | float) or int(data) != data:
            self.fail("invalid")
        return super().to_internal_value(data)


class SimulateInput(StrictInput):
    days = WholeNumberField(
        min_value=MIN_DAYS, max_value=MAX_DAYS, help_text="Replay the orders of this many days before now."
    )


class SimulationDayOutput(serializers.Serializer):
    day = serializers.DateField(help_text="On the campaign's own clock.")
    orders = serializers.IntegerField()
    qualifying_orders = serializers.IntegerField()
    cost = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)
    cumulative_cost = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)
    points = serializers.IntegerField()


class SimulationResultOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["campaign", "program"])
    since = serializers.DateTimeField()
    until = serializers.DateTimeField()
    timezone = serializers.CharField()
    orders = serializers.IntegerField(help_text="Counted orders in the window (cancelled and refunded ones left out).")
    qualifying_orders = serializers.IntegerField(help_text="Orders the campaign applied to (a program: earned on).")
    qualifying_share = serializers.DecimalField(
        max_digits=4, decimal_places=1, coerce_to_string=True, help_text="Percent of the orders."
    )
    affected_customers = serializers.IntegerField()
    redemptions = serializers.IntegerField()
    discount_cost = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True)
    points = serializers.IntegerField(required=False, help_text="Programs: points earned.")
    points_value = serializers.DecimalField(
        max_digits=14, decimal_places=2, coerce_to_string=True, required=False, help_text="Programs: their value."
    )
    budget = serializers.DecimalField(max_digits=14, decimal_places=2, coerce_to_string=True, allow_null=True)
    budget_runs_out_on = serializers.DateField(
        allow_null=True, help_text="The first day an order was refused because the budget could not cover it."
    )
    refused = serializers.DictField(child=serializers.IntegerField(), help_text="Orders not qualifying, by reason.")
    daily = SimulationDayOutput(many=True)
    assumptions = serializers.ListField(child=serializers.CharField())
    elapsed_ms = serializers.IntegerField()


class SimulationOutput(serializers.ModelSerializer):
    campaign_id = serializers.IntegerField()
    status = serializers.ChoiceField(choices=SimulationStatus.choices)
    progress = serializers.IntegerField(help_text="0-100.")
    result = SimulationResultOutput(allow_null=True, help_text="When status is DONE.")

    class Meta:
        model = SimulationRun
        fields = ["id", "campaign_id", "days", "status", "progress", "orders_total", "result", "error", "created_at",
                  "started_at", "finished_at"]  # fmt: skip


class CanSimulate(IsAdminOrModelPermission):
    """ADMIN, or staff who may change the campaign (or program) to start a run; view to read one."""

    perms_map = {**IsAdminOrModelPermission.perms_map, "POST": ["%(app_label)s.change_%(model_name)s"]}


def _campaign(pk: int, *, program: bool) -> Campaign:
    campaign = Campaign.objects.filter(pk=pk).first()
    if campaign is None or (campaign.kind == CampaignKind.LOYALTY_PROGRAM) != program:
        raise NotFound("not_found", f"No {'loyalty program' if program else 'discount campaign'} with id {pk}.")
    return campaign


def _answer(run: SimulationRun) -> Response:
    done = run.status in (SimulationStatus.DONE, SimulationStatus.FAILED)
    return Response(SimulationOutput(run).data, status=status.HTTP_200_OK if done else status.HTTP_202_ACCEPTED)


ID = OpenApiParameter("id", int, OpenApiParameter.PATH, description="The campaign's id.")
START = (
    "Replays the last `days` of counted orders through the real engine (not an estimate): projected redemptions, "
    "discount cost (programs: points), affected customers, the share of orders that qualify, cost per day and the "
    "day the budget would run out. 200 with the finished run for a small window; 202 with the run to poll at "
    "`GET /api/v1/simulations/{id}` when the window holds more than `SIMULATION_INLINE_MAX_ORDERS` orders. "
    "409 `campaign_archived` for an archived one. The result's `assumptions` say what is assumed."
)


class CampaignSimulateView(GenericAPIView):
    queryset = Campaign.objects.none()  # the model whose permissions staff need
    permission_classes = [CanSimulate]
    serializer_class = SimulateInput
    program = False

    @extend_schema(
        tags=["campaigns"],
        parameters=[ID],
        summary="Simulate a campaign over the last N days of orders",
        description=START,
        request=SimulateInput,
        responses={200: SimulationOutput, 202: SimulationOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        data = validated(SimulateInput, request.data)
        campaign = _campaign(_id(pk), program=self.program)
        return _answer(simulation_start(campaign=campaign, days=data["days"], user_id=request.user.pk))


def _id(pk) -> int:
    pk = int(pk)
    if pk > DB_BIGINT:
        raise NotFound("not_found", f"Nothing with id {pk}.")
    return pk


class ProgramSimulateView(CampaignSimulateView):
    program = True

    @property
    def queryset(self):
        from django.apps import apps  # loyalty's proxy model, by name (campaigns never imports loyalty)

        return apps.get_model("loyalty", "LoyaltyProgram").objects.none()

    @extend_schema(
        tags=["loyalty"],
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The program's id.")],
        summary="Simulate a loyalty program over the last N days of orders",
        description=START,
        request=SimulateInput,
        responses={200: SimulationOutput, 202: SimulationOutput, **error_responses(400, 401, 403, 404, 409)},
    )
    def post(self, request: Request, pk: int) -> Response:
        return super().post(request, pk)


class SimulationDetailView(GenericAPIView):
    queryset = Campaign.objects.none()
    permission_classes = [IsAdminOrModelPermission]
    serializer_class = SimulationOutput

    @extend_schema(
        tags=["campaigns"],
        parameters=[OpenApiParameter("id", int, OpenApiParameter.PATH, description="The run's id.")],
        summary="A simulation run: status, progress and, when done, its result",
        responses={200: SimulationOutput, **error_responses(401, 403, 404)},
    )
    def get(self, request: Request, pk: int) -> Response:
        run = SimulationRun.objects.filter(pk=_id(pk)).first()
        if run is None:
            raise NotFound("not_found", f"No simulation with id {pk}.")
        return Response(SimulationOutput(run).data)


urlpatterns = [
    re_path(r"^campaigns/(?P<pk>\d{1,20})/simulate/?$", CampaignSimulateView.as_view(), name="campaign-simulate"),
    re_path(r"^loyalty/programs/(?P<pk>\d{1,20})/simulate/?$", ProgramSimulateView.as_view(), name="program-simulate"),
    re_path(r"^simulations/(?P<pk>\d{1,20})/?$", SimulationDetailView.as_view(), name="simulation-detail"),
]
