// rope
