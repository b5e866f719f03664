-- The product's own database beside Temporal's (its password is set by the operator).
CREATE USER product WITH PASSWORD 'change-me';
CREATE DATABASE product OWNER product;
