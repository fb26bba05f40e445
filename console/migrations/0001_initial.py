from django.db import migrations, models


def create_groups(apps, schema_editor):
    from console.groups import groups_sync

    groups_sync(apps)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("accounts", "0003_sessions_token_version_and_families"),
        ("commerce", "0002_status_change_request_hash"),
        ("segments", "0001_initial"),
        ("campaigns", "0003_rule_product_segments"),
        ("loyalty", "0004_program_messages"),
        ("promotions", "0001_promotion"),
        ("notifications", "0002_message_progress_at"),
    ]

    operations = [
        migrations.CreateModel(
            name="Report",
            fields=[("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False))],
            options={
                "managed": False,
                "default_permissions": (),
                "permissions": [
                    ("view_reports", "Can view the dashboard and reports"),
                    ("export_reports", "Can export reports as CSV"),
                ],
            },
        ),
        migrations.RunPython(create_groups, migrations.RunPython.noop),
    ]
