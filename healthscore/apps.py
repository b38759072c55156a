from django.apps import AppConfig


class HealthscoreConfig(AppConfig):
    name = "healthscore"
