from django.urls import path

from ispdesk.accounts import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginPage.as_view(), name="login"),
    path("logout/", views.logout_page, name="logout"),
]
