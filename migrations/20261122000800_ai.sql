-- Owns: ai_agents, ai_conversations, ai_messages, agent_executions.
-- Seed: 002. DESIGN §1 tenant keys (user_id added to ai_messages and
-- agent_executions); DESIGN §9 closes seed gaps: ai_messages.role also 'tool',
-- agent_executions.status also 'cancelled', plus token, cost and duration columns.

-- Created before ai_conversations so that a conversation's agent_id can be a key.
CREATE TABLE ai_agents (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name VARCHAR(100) NOT NULL,
    description TEXT,
    type VARCHAR(50),
    config JSONB NOT NULL,
    skills TEXT[],
    memory JSONB DEFAULT '{}',
    is_active BOOLEAN DEFAULT TRUE,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id)
);

COMMENT ON TABLE ai_agents IS 'Seed 002. AI agents with prompts/parameters (config), skills and persistent memory.';

CREATE TRIGGER update_ai_agents_timestamp BEFORE UPDATE ON ai_agents
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

CREATE TABLE ai_conversations (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    agent_id UUID,
    title VARCHAR(255),
    context JSONB DEFAULT '{}',
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    is_active BOOLEAN DEFAULT TRUE,
    PRIMARY KEY (user_id, id),
    -- 002 leaves agent_id without a key; keyed, it cannot name another tenant's agent,
    -- and deleting the agent keeps the conversation
    FOREIGN KEY (user_id, agent_id) REFERENCES ai_agents(user_id, id) ON DELETE SET NULL (agent_id)
);

COMMENT ON TABLE ai_conversations IS 'Seed 002. AI chat conversations, optionally with an agent.';

CREATE INDEX idx_ai_conversations_agent ON ai_conversations(user_id, agent_id);

CREATE TRIGGER update_ai_conversations_timestamp BEFORE UPDATE ON ai_conversations
    FOR EACH ROW EXECUTE FUNCTION update_updated_at();

CREATE TABLE ai_messages (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id UUID,
    role VARCHAR(20) NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
    content TEXT NOT NULL,
    function_calls JSONB,
    metadata JSONB DEFAULT '{}',
    tokens_used INTEGER,
    model VARCHAR(50),
    created_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    FOREIGN KEY (user_id, conversation_id) REFERENCES ai_conversations(user_id, id) ON DELETE CASCADE
);

COMMENT ON TABLE ai_messages IS 'Seed 002. Messages of an AI conversation; role tool added for tool results (DESIGN §9).';

CREATE INDEX idx_ai_messages_conversation ON ai_messages(conversation_id, created_at);

CREATE TABLE agent_executions (
    id UUID NOT NULL DEFAULT gen_random_uuid(),
    user_id UUID NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    agent_id UUID,
    trigger_type VARCHAR(50) CHECK (trigger_type IN ('manual', 'scheduled', 'event')),
    trigger_data JSONB,
    status VARCHAR(20) CHECK (status IN ('pending', 'running', 'completed', 'failed', 'cancelled')),
    input JSONB,
    output JSONB,
    error TEXT,
    -- DESIGN §9: usage and cost of a run, so later features fit without new keys
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    cost_usd NUMERIC(12,6),
    duration_ms INTEGER,
    started_at TIMESTAMPTZ,
    completed_at TIMESTAMPTZ,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    PRIMARY KEY (user_id, id),
    FOREIGN KEY (user_id, agent_id) REFERENCES ai_agents(user_id, id) ON DELETE CASCADE
);

COMMENT ON TABLE agent_executions IS 'Seed 002. One run of an agent; status cancelled and the token/cost/duration columns added (DESIGN §9).';

CREATE INDEX idx_executions_agent ON agent_executions(agent_id);
CREATE INDEX idx_executions_status ON agent_executions(status);
