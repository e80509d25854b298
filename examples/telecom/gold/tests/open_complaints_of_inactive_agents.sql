-- An open complaint held by an agent who no longer works here: nobody is answering it. A
-- warning (the pipeline goes on); its rows go to the quarantine for the care team to reassign.
{{ config(severity='warn') }}
select complaint_id, agent_id, status, priority, opened_at
from {{ ref('fct_complaints') }}
where agent_active is false and status not in ('resolved', 'closed')
