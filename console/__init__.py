"""The marketer console: the admin site's look, navigation, groups, dashboard and reports.

The top of the app layers: it reads every app's models and selectors and no app imports it.
"""
