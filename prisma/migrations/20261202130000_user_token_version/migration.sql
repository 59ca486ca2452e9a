-- Access tokens carry the version they were signed with (claim "ver"), and a token whose version
-- is not the user's current one is refused: a password change or reset, or a deactivation, raises
-- it and so ends every access token signed before, at once. Tokens signed before this column
-- existed carry no version and count as version 0.
-- AlterTable
ALTER TABLE "users" ADD COLUMN     "tokenVersion" INTEGER NOT NULL DEFAULT 0;
