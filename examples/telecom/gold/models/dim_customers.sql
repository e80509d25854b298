-- Customers, SCD Type 2: one row per version; customer_key identifies the version.
select
    dbt_scd_id as customer_key,
    customer_id,
    first_name,
    last_name,
    email,
    plan,
    status,
    city,
    state,
    dbt_valid_from as valid_from,
    dbt_valid_to as valid_to,
    dbt_valid_to is null as is_current
from {{ ref('snap_customers') }}
