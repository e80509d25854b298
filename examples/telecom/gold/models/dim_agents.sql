-- Agents, SCD Type 2: one row per version; agent_key identifies the version.
select
    dbt_scd_id as agent_key,
    agent_id,
    full_name,
    team,
    active,
    dbt_valid_from as valid_from,
    dbt_valid_to as valid_to,
    dbt_valid_to is null as is_current
from {{ ref('snap_agents') }}
