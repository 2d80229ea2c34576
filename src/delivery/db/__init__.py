"""PostgreSQL access: numbered plain-SQL migrations and one queries module per aggregate."""
