from django.urls import path

from ispdesk.operators import hours_views, views

urlpatterns = [
    path("team/", views.operators, name="operators"),
    path("team/new/", views.operator_create, name="operator_create"),
    path("team/<int:operator_id>/", views.operator_edit, name="operator_edit"),
    path("team/<int:operator_id>/pause/", views.operator_pause, name="operator_pause"),
    path("team/<int:operator_id>/schedule/", views.operator_schedule, name="operator_schedule"),
    path(
        "team/<int:operator_id>/schedule/copy/",
        views.operator_schedule_copy,
        name="operator_schedule_copy",
    ),
    path("team/schedule/<int:schedule_id>/delete/", views.schedule_delete, name="schedule_delete"),
    path("team/on-duty/", views.on_duty, name="on_duty"),
    path("team/areas/", hours_views.areas, name="areas"),
    path("team/areas/<int:area_id>/", hours_views.area_edit, name="area_edit"),
    path("team/areas/<int:area_id>/hours/", hours_views.area_hours_add, name="area_hours_add"),
    path(
        "team/areas/hours/<int:hours_id>/delete/",
        hours_views.area_hours_delete,
        name="area_hours_delete",
    ),
    path("team/rules/", views.team_rules, name="team_rules"),
    path("team/rules/tags/", views.shift_tag_create, name="shift_tag_create"),
    path("team/rules/tags/<int:tag_id>/", views.shift_tag_edit, name="shift_tag_edit"),
    path("team/rules/exceptions/", views.calendar_exception_add, name="calendar_exception_add"),
    path(
        "team/rules/exceptions/<int:exception_id>/delete/",
        views.calendar_exception_delete,
        name="calendar_exception_delete",
    ),
]
