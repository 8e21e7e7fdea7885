export type Json = string | number | boolean | null | { [key: string]: Json | undefined } | Json[];

export type Database = {
  public: {
    Tables: {
      accounts: {
        Row: {
          created_at: string;
          id: string;
          updated_at: string;
        };
        ComputedFields: never;
        Insert: {
          created_at?: string;
          id: string;
          updated_at?: string;
        };
        Update: {
          created_at?: string;
          id?: string;
          updated_at?: string;
        };
        Relationships: [];
      };
      chat_messages: {
        Row: {
          chat_id: string;
          created_at: string;
          id: string;
          parts: NonNullable<Json>;
          revision: number;
          role: string;
          seq: number;
          updated_at: string;
        };
        ComputedFields: never;
        Insert: {
          chat_id: string;
          created_at?: string;
          id: string;
          parts: NonNullable<Json>;
          revision?: number;
          role: string;
          seq?: number;
          updated_at?: string;
        };
        Update: {
          chat_id?: string;
          created_at?: string;
          id?: string;
          parts?: NonNullable<Json>;
          revision?: number;
          role?: string;
          seq?: number;
          updated_at?: string;
        };
        Relationships: [
          {
            foreignKeyName: "chat_messages_chat_id_fkey";
            columns: ["chat_id"];
            isOneToOne: false;
            referencedRelation: "chats";
            referencedColumns: ["id"];
          },
        ];
      };
      chat_queued_messages: {
        Row: {
          chat_id: string;
          created_at: string;
          id: string;
          message: NonNullable<Json>;
          position: number;
        };
        ComputedFields: never;
        Insert: {
          chat_id: string;
          created_at?: string;
          id: string;
          message: NonNullable<Json>;
          position: number;
        };
        Update: {
          chat_id?: string;
          created_at?: string;
          id?: string;
          message?: NonNullable<Json>;
          position?: number;
        };
        Relationships: [
          {
            foreignKeyName: "chat_queued_messages_chat_id_fkey";
            columns: ["chat_id"];
            isOneToOne: false;
            referencedRelation: "chats";
            referencedColumns: ["id"];
          },
        ];
      };
      chat_reads: {
        Row: {
          account_id: string;
          chat_id: string;
          created_at: string;
          last_read_at: string;
          updated_at: string;
        };
        ComputedFields: never;
        Insert: {
          account_id: string;
          chat_id: string;
          created_at?: string;
          last_read_at?: string;
          updated_at?: string;
        };
        Update: {
          account_id?: string;
          chat_id?: string;
          created_at?: string;
          last_read_at?: string;
          updated_at?: string;
        };
        Relationships: [
          {
            foreignKeyName: "chat_reads_account_id_fkey";
            columns: ["account_id"];
            isOneToOne: false;
            referencedRelation: "accounts";
            referencedColumns: ["id"];
          },
          {
            foreignKeyName: "chat_reads_chat_id_fkey";
            columns: ["chat_id"];
            isOneToOne: false;
            referencedRelation: "chats";
            referencedColumns: ["id"];
          },
        ];
      };
      chats: {
        Row: {
          active_stream_id: string | null;
          attempts: number;
          created_at: string;
          heartbeat_at: string | null;
          id: string;
          last_assistant_message_at: string | null;
          last_error: string | null;
          last_message_seq: number;
          model_id: string | null;
          revision: number;
          revision_txid: number | null;
          runner_id: string | null;
          session_id: string;
          status: string;
          status_changed_at: string;
          title: string;
          updated_at: string;
        };
        ComputedFields: never;
        Insert: {
          active_stream_id?: string | null;
          attempts?: number;
          created_at?: string;
          heartbeat_at?: string | null;
          id?: string;
          last_assistant_message_at?: string | null;
          last_error?: string | null;
          last_message_seq?: number;
          model_id?: string | null;
          revision?: number;
          revision_txid?: number | null;
          runner_id?: string | null;
          session_id: string;
          status?: string;
          status_changed_at?: string;
          title?: string;
          updated_at?: string;
        };
        Update: {
          active_stream_id?: string | null;
          attempts?: number;
          created_at?: string;
          heartbeat_at?: string | null;
          id?: string;
          last_assistant_message_at?: string | null;
          last_error?: string | null;
          last_message_seq?: number;
          model_id?: string | null;
          revision?: number;
          revision_txid?: number | null;
          runner_id?: string | null;
          session_id?: string;
          status?: string;
          status_changed_at?: string;
          title?: string;
          updated_at?: string;
        };
        Relationships: [
          {
            foreignKeyName: "chats_session_id_fkey";
            columns: ["session_id"];
            isOneToOne: false;
            referencedRelation: "sessions";
            referencedColumns: ["id"];
          },
        ];
      };
      sessions: {
        Row: {
          account_id: string;
          auto_commit_push_override: boolean | null;
          branch: string | null;
          cached_diff: Json | null;
          cached_diff_updated_at: string | null;
          clone_url: string | null;
          created_at: string;
          global_skill_refs: NonNullable<Json>;
          hibernate_after: string | null;
          id: string;
          is_new_branch: boolean;
          last_activity_at: string | null;
          lifecycle_error: string | null;
          lifecycle_run_id: string | null;
          lifecycle_state: string | null;
          lifecycle_version: number;
          lines_added: number;
          lines_removed: number;
          repo_name: string | null;
          repo_owner: string | null;
          sandbox_expires_at: string | null;
          sandbox_state: Json | null;
          snapshot_created_at: string | null;
          snapshot_size_bytes: number | null;
          snapshot_url: string | null;
          status: string;
          title: string;
          updated_at: string;
        };
        ComputedFields: never;
        Insert: {
          account_id: string;
          auto_commit_push_override?: boolean | null;
          branch?: string | null;
          cached_diff?: Json | null;
          cached_diff_updated_at?: string | null;
          clone_url?: string | null;
          created_at?: string;
          global_skill_refs?: NonNullable<Json>;
          hibernate_after?: string | null;
          id?: string;
          is_new_branch?: boolean;
          last_activity_at?: string | null;
          lifecycle_error?: string | null;
          lifecycle_run_id?: string | null;
          lifecycle_state?: string | null;
          lifecycle_version?: number;
          lines_added?: number;
          lines_removed?: number;
          repo_name?: string | null;
          repo_owner?: string | null;
          sandbox_expires_at?: string | null;
          sandbox_state?: Json | null;
          snapshot_created_at?: string | null;
          snapshot_size_bytes?: number | null;
          snapshot_url?: string | null;
          status?: string;
          title: string;
          updated_at?: string;
        };
        Update: {
          account_id?: string;
          auto_commit_push_override?: boolean | null;
          branch?: string | null;
          cached_diff?: Json | null;
          cached_diff_updated_at?: string | null;
          clone_url?: string | null;
          created_at?: string;
          global_skill_refs?: NonNullable<Json>;
          hibernate_after?: string | null;
          id?: string;
          is_new_branch?: boolean;
          last_activity_at?: string | null;
          lifecycle_error?: string | null;
          lifecycle_run_id?: string | null;
          lifecycle_state?: string | null;
          lifecycle_version?: number;
          lines_added?: number;
          lines_removed?: number;
          repo_name?: string | null;
          repo_owner?: string | null;
          sandbox_expires_at?: string | null;
          sandbox_state?: Json | null;
          snapshot_created_at?: string | null;
          snapshot_size_bytes?: number | null;
          snapshot_url?: string | null;
          status?: string;
          title?: string;
          updated_at?: string;
        };
        Relationships: [
          {
            foreignKeyName: "sessions_account_id_fkey";
            columns: ["account_id"];
            isOneToOne: false;
            referencedRelation: "accounts";
            referencedColumns: ["id"];
          },
        ];
      };
      workflow_run_steps: {
        Row: {
          created_at: string;
          duration_ms: number;
          finish_reason: string | null;
          finished_at: string;
          id: string;
          raw_finish_reason: string | null;
          started_at: string;
          step_number: number;
          workflow_run_id: string;
        };
        ComputedFields: never;
        Insert: {
          created_at?: string;
          duration_ms: number;
          finish_reason?: string | null;
          finished_at: string;
          id?: string;
          raw_finish_reason?: string | null;
          started_at: string;
          step_number: number;
          workflow_run_id: string;
        };
        Update: {
          created_at?: string;
          duration_ms?: number;
          finish_reason?: string | null;
          finished_at?: string;
          id?: string;
          raw_finish_reason?: string | null;
          started_at?: string;
          step_number?: number;
          workflow_run_id?: string;
        };
        Relationships: [
          {
            foreignKeyName: "workflow_run_steps_workflow_run_id_fkey";
            columns: ["workflow_run_id"];
            isOneToOne: false;
            referencedRelation: "workflow_runs";
            referencedColumns: ["id"];
          },
        ];
      };
      workflow_runs: {
        Row: {
          chat_id: string;
          created_at: string;
          finished_at: string | null;
          id: string;
          model_id: string | null;
          started_at: string;
          status: string;
          total_duration_ms: number | null;
          updated_at: string;
        };
        ComputedFields: never;
        Insert: {
          chat_id: string;
          created_at?: string;
          finished_at?: string | null;
          id: string;
          model_id?: string | null;
          started_at: string;
          status?: string;
          total_duration_ms?: number | null;
          updated_at?: string;
        };
        Update: {
          chat_id?: string;
          created_at?: string;
          finished_at?: string | null;
          id?: string;
          model_id?: string | null;
          started_at?: string;
          status?: string;
          total_duration_ms?: number | null;
          updated_at?: string;
        };
        Relationships: [
          {
            foreignKeyName: "workflow_runs_chat_id_fkey";
            columns: ["chat_id"];
            isOneToOne: false;
            referencedRelation: "chats";
            referencedColumns: ["id"];
          },
        ];
      };
    };
    Views: {
      [_ in never]: never;
    };
    Functions: {
      append_message: { Args: { chat_id: string; message: Json }; Returns: Json };
      chat_changes: { Args: { after_revision?: number; chat_id: string; page_size?: number }; Returns: Json };
      chat_revisions: { Args: { chat_ids: (string)[] }; Returns: Json };
      claim_chats: {
        Args: { chat_ids?: (string)[]; max_chats?: number; runner_id: string; stale_after?: string };
        Returns: Json;
      };
      create_chat: { Args: { id?: string; model_id?: string; session_id: string; title?: string }; Returns: Json };
      create_session_with_chat: { Args: { account_id?: string; chat?: Json; session: Json }; Returns: Json };
      get_messages: {
        Args: { after_seq?: number; before_seq?: number; chat_id: string; page_size?: number };
        Returns: Json;
      };
      heartbeat: { Args: { chat_ids: (string)[]; runner_id: string }; Returns: Json };
      list_chats: {
        Args: { account_id?: string; page_cursor?: string; page_size?: number; session_id?: string };
        Returns: Json;
      };
      list_sessions: { Args: { account_id?: string; page_cursor?: string; page_size?: number }; Returns: Json };
      log_workflow_step: {
        Args: {
          chat_id: string;
          finish_status?: string;
          finished_at?: string;
          model_id?: string;
          run_id: string;
          started_at?: string;
          steps?: Json;
        };
        Returns: Json;
      };
      mark_read: { Args: { account_id?: string; chat_id: string; read_at?: string }; Returns: Json };
      recover_stale_chats: { Args: { stale_after?: string }; Returns: Json };
      stop_chat: { Args: { chat_id: string }; Returns: Json };
    };
    Enums: {
      [_ in never]: never;
    };
    CompositeTypes: {
      [_ in never]: never;
    };
  };
};

type DatabaseWithoutInternals = Omit<Database, "__InternalSupabase">;

type DefaultSchema = DatabaseWithoutInternals[Extract<keyof Database, "public">];

export type Tables<
  DefaultSchemaTableNameOrOptions extends
    | keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals;
  } ? keyof (
      & DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
      & DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"]
    )
    : never = never,
> = DefaultSchemaTableNameOrOptions extends { schema: keyof DatabaseWithoutInternals } ? (
    & DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    & DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Views"]
  )[TableName] extends {
    Row: infer R;
  } ? R
  : never
  : DefaultSchemaTableNameOrOptions extends keyof (DefaultSchema["Tables"] & DefaultSchema["Views"])
    ? (DefaultSchema["Tables"] & DefaultSchema["Views"])[DefaultSchemaTableNameOrOptions] extends {
      Row: infer R;
    } ? R
    : never
  : never;

export type TablesInsert<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals;
  } ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never = never,
> = DefaultSchemaTableNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
    Insert: infer I;
  } ? I
  : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
      Insert: infer I;
    } ? I
    : never
  : never;

export type TablesUpdate<
  DefaultSchemaTableNameOrOptions extends
    | keyof DefaultSchema["Tables"]
    | { schema: keyof DatabaseWithoutInternals },
  TableName extends DefaultSchemaTableNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals;
  } ? keyof DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"]
    : never = never,
> = DefaultSchemaTableNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[DefaultSchemaTableNameOrOptions["schema"]]["Tables"][TableName] extends {
    Update: infer U;
  } ? U
  : never
  : DefaultSchemaTableNameOrOptions extends keyof DefaultSchema["Tables"]
    ? DefaultSchema["Tables"][DefaultSchemaTableNameOrOptions] extends {
      Update: infer U;
    } ? U
    : never
  : never;

export type Enums<
  DefaultSchemaEnumNameOrOptions extends
    | keyof DefaultSchema["Enums"]
    | { schema: keyof DatabaseWithoutInternals },
  EnumName extends DefaultSchemaEnumNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals;
  } ? keyof DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"]
    : never = never,
> = DefaultSchemaEnumNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[DefaultSchemaEnumNameOrOptions["schema"]]["Enums"][EnumName]
  : DefaultSchemaEnumNameOrOptions extends keyof DefaultSchema["Enums"]
    ? DefaultSchema["Enums"][DefaultSchemaEnumNameOrOptions]
  : never;

export type CompositeTypes<
  PublicCompositeTypeNameOrOptions extends
    | keyof DefaultSchema["CompositeTypes"]
    | { schema: keyof DatabaseWithoutInternals },
  CompositeTypeName extends PublicCompositeTypeNameOrOptions extends {
    schema: keyof DatabaseWithoutInternals;
  } ? keyof DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"]
    : never = never,
> = PublicCompositeTypeNameOrOptions extends { schema: keyof DatabaseWithoutInternals }
  ? DatabaseWithoutInternals[PublicCompositeTypeNameOrOptions["schema"]]["CompositeTypes"][CompositeTypeName]
  : PublicCompositeTypeNameOrOptions extends keyof DefaultSchema["CompositeTypes"]
    ? DefaultSchema["CompositeTypes"][PublicCompositeTypeNameOrOptions]
  : never;

export const Constants = {
  public: {
    Enums: {},
  },
} as const;
