-- One row per complaint, joined to the current version of its customer and agent.
select
    c.complaint_id,
    cu.customer_key,
    ag.agent_key,
    c.customer_id,
    c.agent_id,
    ag.active as agent_active,
    c.channel,
    c.category,
    c.priority,
    c.status,
    c.opened_at,
    c.resolved_at,
    c.status_changed_at
from {{ source('silver', 'conformed_complaints') }} c
join {{ ref('dim_customers') }} cu on cu.customer_id = c.customer_id and cu.is_current
left join {{ ref('dim_agents') }} ag on ag.agent_id = c.agent_id and ag.is_current
