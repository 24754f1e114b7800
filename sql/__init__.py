"""The SQL of Arxiv Atlas, installed as the package `atlas_sql`: sql/idempotent/ holds the live
definition of every function, view, trigger and comment (app/core/sql_layer.py applies them)."""
